// SPDX-License-Identifier: GPL-2.0-or-later
// auto_resume.so exports Slurm's plugin symbols and callbacks, and nothing else.
#include <dlfcn.h>
#include <slurm/slurm_version.h>

#include "catch_compat.hpp"
#include <set>
#include <sstream>

#include "devcluster.hpp"

using namespace autoresume::testing;

TEST_CASE("auto_resume.so exports exactly the plugin symbols and SPANK callbacks", "[plugin]") {
  void* so = dlopen(AUTORESUME_PLUGIN, RTLD_LAZY | RTLD_LOCAL);
  INFO((so ? "" : dlerror()));
  REQUIRE(so);
  for (const char* sym : {"plugin_name", "plugin_type", "plugin_version", "spank_plugin_version", "slurm_spank_init",
                          "slurm_spank_init_post_opt", "slurm_spank_task_init", "slurm_spank_local_user_init"})
    CHECK(dlsym(so, sym) != nullptr);
  CHECK(std::string(static_cast<const char*>(dlsym(so, "plugin_type"))) == "spank");
  CHECK(std::string(static_cast<const char*>(dlsym(so, "plugin_name"))) == "auto_resume");
  CHECK(*static_cast<const unsigned*>(dlsym(so, "plugin_version")) == SLURM_VERSION_NUMBER);
  dlclose(so);

  auto r = run(std::string("nm -D --defined-only ") + AUTORESUME_PLUGIN + " | awk '{print $3}'");
  REQUIRE(r.rc == 0);
  std::set<std::string> exported;
  std::stringstream in(r.out);
  for (std::string s; in >> s;) exported.insert(s);
  CHECK(exported == std::set<std::string>{"plugin_name", "plugin_type", "plugin_version", "spank_plugin_version",
                                          "slurm_spank_init", "slurm_spank_init_post_opt", "slurm_spank_task_init", "slurm_spank_local_user_init",
                                          "slurm_spank_init_failure_mode"});
}
