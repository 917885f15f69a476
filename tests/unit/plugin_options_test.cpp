#include "catch_compat.hpp"

#include "../../spank_plugin/options.hpp"

using namespace autoresume;
using namespace autoresume::plugin;

TEST_CASE("the auto-resume option accepts 1/0, yes/no, true/false and bare means on", "[plugin]") {
  CHECK(*parse_auto_resume(nullptr) == true);
  for (const char* on : {"1", "yes", "true"}) CHECK(*parse_auto_resume(on) == true);
  for (const char* off : {"0", "no", "false"}) CHECK(*parse_auto_resume(off) == false);
}

TEST_CASE("a bad --auto-resume value names the option, the value and what is accepted", "[plugin]") {
  for (const char* bad : {"maybe", "2", "", "YES", "1 "}) {
    auto r = parse_auto_resume(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == std::string("auto_resume: invalid value \"") + bad +
                                   "\" for --auto-resume (expected 1, 0, yes, no, true or false)");
  }
}

TEST_CASE("the max-attempts option is bounded by the site maximum", "[plugin]") {
  CHECK(*parse_max_attempts("1", 10) == 1);
  CHECK(*parse_max_attempts("10", 10) == 10);
  for (const char* bad : {"0", "11", "abc", "", "-1", "3.5", "99999999999"}) {
    auto r = parse_max_attempts(bad, 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(std::string("\"") + bad + "\" for --auto-resume-max-attempts") != std::string::npos);
    CHECK(r.error().message.find("from 1 to 10") != std::string::npos);
  }
  CHECK_FALSE(parse_max_attempts(nullptr, 10).ok());
}

TEST_CASE("plugstack arguments: defaults, known keys, clear errors", "[plugin]") {
  auto d = parse_site_config({});
  REQUIRE(d.ok());
  CHECK_FALSE(d->default_on);
  CHECK(d->default_max_attempts == 3);
  CHECK(d->max_attempts == 10);

  auto c = parse_site_config({"default=yes", "default_max_attempts=2", "max_attempts=4"});
  REQUIRE(c.ok());
  CHECK(c->default_on);
  CHECK(c->default_max_attempts == 2);
  CHECK(c->max_attempts == 4);

  auto unknown = parse_site_config({"max_atempts=5"});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message ==
        "auto_resume: plugstack.conf argument \"max_atempts=5\": unknown key \"max_atempts\" (known: default, "
        "default_max_attempts, max_attempts)");
  CHECK_FALSE(parse_site_config({"default=maybe"}).ok());
  CHECK_FALSE(parse_site_config({"max_attempts=0"}).ok());
  CHECK_FALSE(parse_site_config({"novalue"}).ok());
  auto inverted = parse_site_config({"default_max_attempts=5", "max_attempts=4"});
  REQUIRE_FALSE(inverted.ok());
  CHECK(inverted.error().message.find("default_max_attempts=5 is above max_attempts=4") != std::string::npos);
}

TEST_CASE("intent from site defaults and the request", "[plugin]") {
  SiteConfig site;  // off by default, budget 3
  CHECK_FALSE(resolve_intent(site, {}));
  CHECK(resolve_intent(site, {true, std::nullopt}) == Intent{3});
  CHECK(resolve_intent(site, {true, 5u}) == Intent{5});
  CHECK(resolve_intent(site, {std::nullopt, 2u}) == Intent{2});  // a budget implies auto-resume
  CHECK_FALSE(resolve_intent(site, {false, 2u}));                 // but an explicit 0 wins

  site.default_on = true;
  CHECK(resolve_intent(site, {}) == Intent{3});
  CHECK_FALSE(resolve_intent(site, {false, std::nullopt}));
}

TEST_CASE("an intent claimed by the job's environment is never an in-place one", "[plugin][security]") {
  SiteConfig site;
  CHECK_FALSE(revalidate_claimed_intent(site, "1:max=3:step"));  // only the step's own option asks in place
  CHECK(revalidate_claimed_intent(site, "1:max=3").value() == Intent{3, false});
}

TEST_CASE("an intent claimed by the job's environment is held to the site's configuration", "[plugin][security]") {
  SiteConfig site;
  site.max_attempts = 8;
  auto ok = revalidate_claimed_intent(site, "1:max=8");
  REQUIRE(ok);
  CHECK(*ok == Intent{8});
  for (const char* bad : {"1:max=9", "1:max=4000000000", "1:max=99999999999999999999", "1:max=0", "1", "0", "",
                          "1:max=3 autoresume=1:max=500", "1:max=-1", "1:max=3x"}) {
    INFO(bad);
    auto refused = revalidate_claimed_intent(site, bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("SLURM_SPANK_AUTO_RESUME") != std::string::npos);
  }
  CHECK(revalidate_claimed_intent(site, "1:max=9").error().message.find("above the site's max_attempts=8") !=
        std::string::npos);
}
