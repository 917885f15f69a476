// SPDX-License-Identifier: GPL-2.0-or-later
// High availability: an autoresumed beside every SlurmctldHost, one StateDir on the filesystem they share
// (StateSaveLocation's), exactly one of them active.
//
// The active one holds the lease in the state database: a row with its holder, an expiry it pushes out every
// second and before every action, and a generation raised by every take. Its connection writes under that
// generation (store/store.hpp: a write whose generation is no longer the lease's is refused inside its own
// transaction), so one that lost the lease cannot journal, and so cannot send, anything more.
//
// Which one should hold it follows Slurm: the autoresumed beside the slurmctld in control now, i.e. the first
// SlurmctldHost that answers a ping (a backup takes control only when those before it stop answering). That one
// takes a free or expired lease at once, or asks for a held one; the holder hands it over between two ticks when
// it is not beside the slurmctld in control and another is and asks. One not beside the slurmctld in control
// takes only a lease abandoned for 2 x LeaseTime (the preferred one is down too). A lone autoresumed
// (HighAvailability=no) takes the lease at start: a second process on the same StateDir is fenced out the same way.
#pragma once

#include <string>

#include "config/config.hpp"
#include "engine/snapshot.hpp"
#include "slurm/slurm_client.hpp"
#include "store/store.hpp"

namespace autoresume {

class Leadership {
 public:
  Leadership(Store& store, SlurmClient& slurm, const Config& config);

  // Decides, from the lease and (HighAvailability) the controllers' pings, whether this process acts now; takes,
  // renews, asks for or hands over the lease. Called by the loop between ticks, at most about once a second (more
  // often returns the last answer unless `now_please`).
  bool update(bool now_please = false);
  // The store refused a write (LeaseLost): this process is standby from now on.
  void lost(const std::string& why);
  bool active() const { return view_.active; }
  const RoleView& view() const { return view_; }

 private:
  bool beside_controller_in_control();
  void become(bool active, const std::string& why);

  Store& store_;
  SlurmClient& slurm_;
  const Config& config_;
  RoleView view_;
  std::string holder_;  // "HOST pid N"
  int index_ = -1;      // ours among slurm.conf's SlurmctldHost (-1: not known yet)
  std::string index_problem_;
  double last_update_ = 0;
};

// This host's name as Slurm compares it with SlurmctldHost: the short one.
std::string short_hostname();

// What `autoresumed --check-slurm` says of high availability, one line each (empty: nothing missing): slurm.conf
// names backups but HighAvailability=no; StateDir not shared (neither on StateSaveLocation's filesystem nor on a
// network one); ControllerHost not among SlurmctldHost; LeaseTime not below SlurmctldTimeout.
std::vector<std::string> high_availability_missing(const Config& config, const SlurmSettings& settings);

}  // namespace autoresume
