#pragma once
// The attributes the two EMD ops share (squared, rel_tol, max_rounds), read into EmdOptions.
#include "emd/emd.h"
#include "tf/tf_door.h"

namespace pointops {

// Fails the construction (ctx's status) when an attribute is missing or rel_tol is not > 0.
inline void read_emd_attrs(tensorflow::OpKernelConstruction* ctx, const char* op, EmdOptions* options) {
  float rel_tol;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &options->squared));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("rel_tol", &rel_tol));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("max_rounds", &options->max_rounds));
  OP_REQUIRES(ctx, rel_tol > 0, tensorflow::errors::InvalidArgument(op, ": rel_tol must be > 0, got ", rel_tol));
  options->rel_tol = rel_tol;
}

}  // namespace pointops
