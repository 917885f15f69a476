// SPDX-License-Identifier: GPL-2.0-or-later
#include "catch_compat.hpp"

#include "autoresume/intent.hpp"

using namespace autoresume;

TEST_CASE("intent token round-trips through AdminComment", "[intent]") {
  CHECK(intent_token(Intent{3}) == "autoresume=1:max=3");
  CHECK(parse_intent("autoresume=1:max=3") == Intent{3});
  CHECK(parse_intent("site:abc  autoresume=1:max=12 other") == Intent{12});
}

TEST_CASE("no or malformed intent token means no intent", "[intent]") {
  CHECK_FALSE(parse_intent(""));
  CHECK_FALSE(parse_intent("maintenance window"));
  CHECK_FALSE(parse_intent("autoresume=1"));
  CHECK_FALSE(parse_intent("autoresume=1:max=0"));
  CHECK_FALSE(parse_intent("autoresume=1:max=3x"));
  CHECK_FALSE(parse_intent("autoresume=1:max="));
  CHECK_FALSE(parse_intent("autoresume=0"));
  CHECK_FALSE(parse_intent("xautoresume=1:max=3"));
  CHECK_FALSE(parse_intent("autoresume=1:max=99999999999999999999"));
}

TEST_CASE("merging keeps what others wrote and replaces only our token", "[intent]") {
  CHECK(merge_intent("", "autoresume=1:max=3") == "autoresume=1:max=3");
  CHECK(merge_intent("site:xyz", "autoresume=1:max=3") == "site:xyz autoresume=1:max=3");
  CHECK(merge_intent("a autoresume=1:max=2 b", "autoresume=1:max=5") == "a autoresume=1:max=5 b");
  CHECK(merge_intent("autoresume=1:max=2 autoresume=1:max=9", "autoresume=1:max=5") == "autoresume=1:max=5");
  CHECK(merge_intent("  a\tb  ", "autoresume=1:max=1") == "a b autoresume=1:max=1");
  // Idempotent: merging twice changes nothing, which is how the writer skips a needless update.
  std::string once = merge_intent("x", "autoresume=1:max=4");
  CHECK(merge_intent(once, "autoresume=1:max=4") == once);
}

TEST_CASE("a step's intent (in place) round-trips, and the swap token is parsed strictly", "[intent]") {
  CHECK(parse_intent(intent_token(Intent{4, true})) == Intent{4, true});
  CHECK(parse_intent("autoresume=1:max=4:step") == Intent{4, true});
  CHECK_FALSE(parse_intent("autoresume=1:max=4:steps"));
  CHECK_FALSE(parse_intent("autoresume=1:max=:step"));
  SwapState s{2, SwapState::Stage::Ready, {0, 3}};
  CHECK(swap_token(s) == "autoresume_swap=2:ready:0,3");
  CHECK(parse_swap("x=1 " + swap_token(s) + " y") == s);
  CHECK(parse_swap("autoresume_swap=1:requeue:-") == SwapState{1, SwapState::Stage::Requeue, {}});
  for (const char* bad : {"autoresume_swap=0:ready:1", "autoresume_swap=1:done:1", "autoresume_swap=1:ready:1,",
                          "autoresume_swap=1:ready:x", "autoresume_swap=1:ready", "autoresume_swap=:ready:1",
                          "autoresume_swap=1:ready:99999999999"})
    CHECK_FALSE(parse_swap(bad));
  // The swap token and the intent token are separate keys: writing one never touches the other.
  std::string both = merge_token(intent_token(Intent{3, true}), kSwapKey, swap_token(s));
  CHECK(parse_intent(both) == Intent{3, true});
  CHECK(parse_swap(both) == s);
}
