#pragma once
// The bid search of both CPU auctions, mostly without searching the price tree.
//
// A bid needs an object j, its value w1 (-cost - price), and w2, an upper bound of every other
// object's value: the bidder raises j's price by w1 - w2 + eps, so its value at j becomes w2 - eps
// and eps-complementary slackness holds whichever j it is. The exact best and second best are one
// choice; any j whose w2 is within `slack` < eps of w1 is another, and the auction stays an auction
// (each price rise at least eps - slack), with the same certified gap at the end.
//
// Each tree search (emd/price_tree.h) keeps the person's kListed best objects with their costs, and
// its floor: a value at or above every other object's value at that time. Prices only rise in both
// auctions (a bid raises one; phases keep them), so values only fall and the floor stays an upper
// bound for the objects outside the list. A later bid rescores the list at the current prices and
// takes w2 = max(the list's second best, the floor); the tree is searched again only when that is
// more than eps / 2 above the list's best. The tree search itself skips subtrees within eps / 4 of
// its k-th best. The gap's best values stay exact (a tree search when the list cannot prove it).
// Session 8, CPU_NOTES: 1.3x-1.7x fewer milliseconds per cloud at N = 2048 and 4096.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/batch_helper.h"
#include "emd/price_tree.h"

namespace pointops {

template <typename T, int D>
class BidSearch {
 public:
  static constexpr int64_t kListed = 8;  // measured against 4, 12 and 16 (CPU_NOTES)

  // persons: [n, D], objects: [m, D], price: [m]; all kept by pointer. price must only rise, and
  // price_raised(j) must follow each rise.
  BidSearch(const T* persons, int64_t n, const T* objects, int64_t m, const double* price, bool squared)
      : persons_(persons), price_(price), one_object_(m == 1), tree_(objects, m, price, squared),
        listed_(size_t(n) * kListed), count_(n, 0), floor_(n, std::numeric_limits<double>::infinity()) {}

  void price_raised(int32_t j) { tree_.price_raised(j); }

  // Person i's bid in a phase of this eps: j, w1, and w2 >= every other object's value, with
  // w2 < w1 + eps / 2 (w2 = w1 when there is one object, so that its price rises by eps).
  Bid bid(int64_t i, double eps) {
    Bid listed;
    return listed_bid(i, eps, listed) ? listed : renew(i, eps / 4);
  }

  // The bids of persons [count] into out [count], as bid() makes them: first every list, here, then
  // the tree searches the lists could not spare, shared with the helper when there is one (a tree
  // search takes microseconds, a list tens of nanoseconds: sharing only the searches lets the
  // helper join in time). Each bid is made alone, so the results do not depend on the helper.
  void bids(const int32_t* persons, int64_t count, double eps, Bid* out, BatchHelper* helper) {
    searches_.clear();
    for (int64_t k = 0; k < count; ++k)
      if (!listed_bid(persons[k], eps, out[k])) searches_.push_back(k);
    share_range(helper, int64_t(searches_.size()), 2, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) out[searches_[s]] = renew(persons[searches_[s]], eps / 4);
    });
  }

  // Every person's best value over all objects, exactly, into best: [n]; the tree searches shared
  // as in bids().
  void best_values(double* best, BatchHelper* helper) {
    searches_.clear();
    for (int64_t i = 0; i < int64_t(count_.size()); ++i) {
      const Bid listed = rescore(i);
      if (listed.j >= 0 && listed.w1 >= floor_[i]) {
        best[i] = listed.w1;
      } else {
        searches_.push_back(i);
      }
    }
    share_range(helper, int64_t(searches_.size()), 2, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) best[searches_[s]] = renew(searches_[s], 0).w1;
    });
  }

  // An upper bound of every person's best value, into best: [n], from the lists alone.
  void upper_values(double* best) const {
    for (int64_t i = 0; i < int64_t(count_.size()); ++i) best[i] = std::max(rescore(i).w1, floor_[i]);
  }

  // The persons' mean cost to their nearest object, before any price has risen (minus the mean
  // best value); scratch: [n]. Fills every person's list.
  double mean_nearest_cost(double* scratch, BatchHelper* helper) {
    best_values(scratch, helper);
    double sum = 0;
    for (size_t i = 0; i < count_.size(); ++i) sum -= scratch[i];
    return count_.empty() ? 0.0 : sum / double(count_.size());
  }

 private:
  // Person i's bid from its list alone, into bid; false when the list cannot give one.
  bool listed_bid(int64_t i, double eps, Bid& bid) const {
    const Bid listed = rescore(i);
    const double w2 = one_object_ ? listed.w1 : std::max(listed.w2, floor_[i]);
    if (listed.j < 0 || !(w2 - listed.w1 < eps / 2)) return false;
    bid = Bid{listed.j, listed.w1, w2};
    return true;
  }

  // The best two of i's list at the current prices (no object when the list is empty).
  Bid rescore(int64_t i) const {
    const Candidate* list = &listed_[size_t(i) * kListed];
    Bid bid;
    for (int64_t k = 0; k < count_[i]; ++k) bid.consider(list[k].j, -list[k].cost - price_[list[k].j]);
    return bid;
  }

  // Searches the tree for i's best objects (skipping subtrees within slack of the list's last),
  // keeps them as i's list with their floor, and returns the bid they give.
  Bid renew(int64_t i, double slack) {
    Candidate* list = &listed_[size_t(i) * kListed];
    // The old list's objects still have values at or above their lowest one now: the search need
    // not look below it.
    double known = -std::numeric_limits<double>::infinity();
    if (count_[i] == kListed) {
      known = std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < kListed; ++k) known = std::min(known, -list[k].cost - price_[list[k].j]);
    }
    count_[i] = tree_.best_k(persons_ + i * D, kListed, slack, known, list, floor_[i]);
    Bid bid;
    for (int64_t k = 0; k < count_[i]; ++k) bid.consider(list[k].j, list[k].value);
    bid.w2 = one_object_ ? bid.w1 : std::max(bid.w2, floor_[i]);
    return bid;
  }

  const T* persons_;
  const double* price_;
  bool one_object_;  // no other option: bids take w2 = w1
  PriceTree<T, D> tree_;
  std::vector<Candidate> listed_;  // [n, kListed]: each person's list, best first
  std::vector<int64_t> count_;     // [n]: entries in each list (0 before the first search)
  std::vector<double> floor_;      // [n]: +inf before the first search
  std::vector<int64_t> searches_;  // bids() and best_values(): the places that need a tree search
};

}  // namespace pointops
