// SPDX-License-Identifier: GPL-2.0-or-later
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
        "default_max_attempts, max_attempts, default_hang_timeout, max_hang_timeout, progress_dir)");
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

TEST_CASE("hang timeouts: the option, the site default and maximum, the progress directory", "[plugin]") {
  CHECK(*parse_hang_timeout("600", 3600) == 600);
  CHECK(*parse_hang_timeout("90s", 3600) == 90);
  CHECK(*parse_hang_timeout("10m", 3600) == 600);
  CHECK(*parse_hang_timeout("1h", 3600) == 3600);
  CHECK(*parse_hang_timeout("0", 3600) == 0);  // never judged hung
  for (const char* bad : {"4", "2h", "", "10x", "-5", "1.5m", "m", "99999999999"}) {
    auto r = parse_hang_timeout(bad, 3600);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(std::string("\"") + bad + "\" for --auto-resume-hang-timeout") != std::string::npos);
    CHECK(r.error().message.find("from 5 s to 3600 s") != std::string::npos);
  }
  auto d = parse_site_config({});
  REQUIRE(d.ok());
  CHECK_FALSE(d->default_hang_timeout);  // the controller's HangTimeout then
  CHECK(d->progress_dir == "/run/autoresume/progress");
  auto c = parse_site_config({"default_hang_timeout=20m", "max_hang_timeout=2h", "progress_dir=/var/run/ar/"});
  REQUIRE(c.ok());
  CHECK(c->default_hang_timeout == 1200u);
  CHECK(c->max_hang_timeout == 7200u);
  CHECK(c->progress_dir == "/var/run/ar");
  for (const char* bad : {"default_hang_timeout=3", "max_hang_timeout=0", "progress_dir=relative", "progress_dir=/a/../b",
                          "default_hang_timeout=3h max_hang_timeout=1h"})
    CHECK_FALSE(parse_site_config({bad}).ok());
  auto above = parse_site_config({"default_hang_timeout=3h", "max_hang_timeout=1h"});
  REQUIRE_FALSE(above.ok());
  CHECK(above.error().message.find("default_hang_timeout=10800 is above max_hang_timeout=3600") != std::string::npos);

  // The intent: the job's own timeout, else the site's default; asking for one turns auto-resume on.
  SiteConfig site;
  Request asked;
  asked.hang_timeout = 300;
  auto intent = resolve_intent(site, asked);
  REQUIRE(intent);
  CHECK(intent->hang_timeout == 300u);
  CHECK(intent->max_attempts == 3);
  site.default_hang_timeout = 900;
  Request on;
  on.enabled = true;
  CHECK(resolve_intent(site, on)->hang_timeout == 900u);
  Request off = asked;
  off.enabled = false;
  CHECK_FALSE(resolve_intent(site, off));

  // What the job's environment claims is held to the site's limits, like the option.
  site.max_hang_timeout = 3600;
  CHECK(revalidate_claimed_intent(site, "1:max=3:hang=600")->hang_timeout == 600u);
  CHECK(revalidate_claimed_intent(site, "1:max=3:hang=0")->hang_timeout == 0u);
  auto long_hang = revalidate_claimed_intent(site, "1:max=3:hang=7200");
  REQUIRE_FALSE(long_hang.ok());
  CHECK(long_hang.error().message.find("a hang timeout of 7200 s is outside 5 to the site's max_hang_timeout=3600") !=
        std::string::npos);
  CHECK_FALSE(revalidate_claimed_intent(site, "1:max=3:hang=1").ok());
  CHECK_FALSE(revalidate_claimed_intent(site, "1:max=3:step").ok());
}
