// SPDX-License-Identifier: GPL-2.0-or-later
// Every difference between the Slurm releases the project supports (22.05 .. 26.05), in one place. Included
// only by the two pieces of code that talk to Slurm: the daemons' adapter (controller/slurm/libslurm_client.cpp)
// and the plugin's root-side writer (spank_plugin/intent_writer.cpp). Nothing else may include slurm.h for
// the API, and nothing else may test SLURM_VERSION_NUMBER.
//
// The differences are detected from the headers themselves where C++ can see them (a member, a parameter
// type), so a release between the tested ones compiles the way its own header says; the version number is used
// only where a header gives nothing to test (a renamed, undeclared symbol; a new enum value).
#pragma once

#include <dlfcn.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <type_traits>

namespace autoresume::slurm_compat {

// The error of the last failed libslurm call. slurm_get_errno() is gone since 24.11; on 22.05 it only returned
// errno, which every release sets.
inline int last_errno() { return errno; }

// A job id as Slurm's API takes it: a uint32_t up to 25.11, a slurm_step_id_t (job id plus sluid) since 26.05
// for slurm_requeue, slurm_load_job, slurm_kill_job and slurm_signal_job. Its SLURM_BACKWARD_COMPAT shim is C11
// _Generic, which C++ cannot use.
inline slurm_step_id_t whole_job(uint32_t job_id) {
  slurm_step_id_t id{};  // sluid (26.05+) 0: "look it up by job id"
  id.job_id = job_id;
  id.step_id = NO_VAL;
  id.step_het_comp = NO_VAL;
  return id;
}

template <typename F, typename... Args>
auto call_with_job(F f, uint32_t job_id, Args... args) {
  if constexpr (std::is_invocable_v<F, uint32_t, Args...>)
    return f(job_id, args...);
  else
    return f(whole_job(job_id), args...);
}

// slurm_load_job(resp, job, show_flags): the job argument is the second one.
template <typename F>
int load_job(F f, job_info_msg_t** resp, uint32_t job_id, uint16_t show_flags) {
  if constexpr (std::is_invocable_v<F, job_info_msg_t**, uint32_t, uint16_t>)
    return f(resp, job_id, show_flags);
  else
    return f(resp, whole_job(job_id), show_flags);
}

inline int requeue(uint32_t job_id, uint32_t flags) { return call_with_job(&slurm_requeue, job_id, flags); }
inline int kill_job(uint32_t job_id, uint16_t signal, uint16_t flags) {
  return call_with_job(&slurm_kill_job, job_id, signal, flags);
}

// One step of a job: slurm_kill_job_step(job, step, signal) on 22.05, with a flags argument since 23.x, on a
// slurm_step_id_t since 26.05.
inline slurm_step_id_t one_step(uint32_t job_id, uint32_t step_id) {
  slurm_step_id_t id = whole_job(job_id);
  id.step_id = step_id;
  return id;
}

template <typename F>
int kill_step(F f, uint32_t job_id, uint32_t step_id, uint16_t signal) {
  if constexpr (std::is_invocable_v<F, uint32_t, uint32_t, uint16_t>)
    return f(job_id, step_id, signal);
  else if constexpr (std::is_invocable_v<F, uint32_t, uint32_t, uint16_t, uint16_t>)
    return f(job_id, step_id, signal, uint16_t{0});
  else {
    slurm_step_id_t id = one_step(job_id, step_id);
    return f(&id, signal, uint16_t{0});
  }
}

// A job's steps: slurm_get_job_steps(update_time, job, step, resp, flags) up to 25.11, (step_id*, resp, flags)
// since 26.05.
template <typename F>
int get_job_steps(F f, uint32_t job_id, job_step_info_response_msg_t** resp, uint16_t show_flags) {
  if constexpr (std::is_invocable_v<F, time_t, uint32_t, uint32_t, job_step_info_response_msg_t**, uint16_t>)
    return f(time_t{0}, job_id, NO_VAL, resp, show_flags);
  else {
    slurm_step_id_t id = one_step(job_id, NO_VAL);
    return f(&id, resp, show_flags);
  }
}

// job_desc_msg_t.job_id became step_id.job_id in 26.05, as did submit_response_msg_t's.
template <typename Msg>
void set_job_id(Msg& msg, uint32_t job_id) {
  if constexpr (requires { msg.step_id.job_id; })
    msg.step_id.job_id = job_id;
  else
    msg.job_id = job_id;
}

template <typename Msg>
uint32_t job_id_of(const Msg& msg) {
  if constexpr (requires { msg.step_id.job_id; })
    return msg.step_id.job_id;
  else
    return msg.job_id;
}

// update_node_msg_t.reason_uid is gone in 26.05 (slurmctld records the authenticated sender); before, an unset
// reason_uid shows as "[slurm@...]"-less Reason in scontrol, so the sender's uid is given where the field exists.
template <typename Msg>
void set_reason_uid(Msg& msg, uint32_t uid) {
  if constexpr (requires { msg.reason_uid; }) msg.reason_uid = uid;
}

// The text scontrol prints for a job's Reason=: exported by libslurm under two names, declared in no header
// (slurm_job_reason_string up to 23.02, slurm_job_state_reason_string since), so looked up once at run time.
inline const char* job_reason_string(uint32_t reason) {
  using Fn = const char* (*)(int);
  static const Fn fn = [] {
    for (const char* name : {"slurm_job_state_reason_string", "slurm_job_reason_string"})
      if (void* f = dlsym(RTLD_DEFAULT, name)) return reinterpret_cast<Fn>(f);
    return static_cast<Fn>(nullptr);
  }();
  return fn ? fn(static_cast<int>(reason)) : nullptr;
}

// Frees memory libslurm xmalloc'd and sets the pointer to null. slurm_xfree_ptr is exported by libslurm but
// declared only in its internal xmalloc.h; it takes the pointer itself (it is a list destructor), not its address.
extern "C" void slurm_xfree_ptr(void* ptr);
template <typename T>
void xfree(T*& p) {
  if (p) slurm_xfree_ptr(p);
  p = nullptr;
}

// What slurm_load_ctl_conf returns is freed by slurm_free_ctl_conf up to 25.11 and by slurm_free_conf since
// (renamed). Found by argument-dependent lookup on the configuration type, whichever this slurm.h declares.
template <typename Conf>
void free_ctl_conf(Conf* conf) {
  if constexpr (requires { slurm_free_conf(conf); }) slurm_free_conf(conf);
  else slurm_free_ctl_conf(conf);
}

// The name slurm_create_reservation returns: malloc'd up to 24.11 ("caller must free"), xmalloc'd in 26.05
// ("caller must xfree"; free() aborts there).
inline void free_reservation_name(char* name) {
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(26, 5, 0)
  xfree(name);
#else
  std::free(name);
#endif
}

// What slurmstepd does when the plugin's init fails (25.05+, slurm_spank_init_failure_mode): fail that job,
// not drain the node (the default). Older releases have no such setting and never read the symbol.
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(25, 5, 0)
inline constexpr int kSpankInitFailureMode = ESPANK_JOB_FAILURE;
#else
inline constexpr int kSpankInitFailureMode = 0;
#endif

// Power saving through slurm_update_node, what `scontrol update state=POWER_DOWN_FORCE|POWER_UP` sends: the same
// bits from 22.05 to 26.05. (21.08 renamed the states: POWER_SAVE became POWERED_DOWN, POWER_UP POWERING_UP, and
// the request bits POWER_DOWN/POWER_UP were added; 24.05 added `scontrol power up|down` as another spelling of the
// same request; 26.05 adds slurm.conf's PowerAction, ctl_conf.power_action_name, which changes what the power
// programs do, not the request.) A reboot has no public call in any release: the adapter runs scontrol.
inline constexpr uint32_t kPowerDownForce = NODE_STATE_POWER_DOWN | NODE_STATE_POWERED_DOWN;
inline constexpr uint32_t kPowerUp = NODE_STATE_POWER_UP;

// Whether slurmctld hides powered-down CLOUD nodes from slurm_load_node, even with SHOW_ALL and for root: up to
// 22.05 it does unless slurm.conf says PrivateData=cloud (PRIVATE_CLOUD_NODES); 23.02 made them always visible and
// dropped the flag. A hidden node cannot be watched through a power cycle.
inline bool powered_down_cloud_nodes_hidden([[maybe_unused]] const slurm_conf_t* conf) {
#ifdef PRIVATE_CLOUD_NODES
  return (conf->private_data & PRIVATE_CLOUD_NODES) == 0;
#else
  return false;
#endif
}

// How a job asks for a GRES in tres_per_node: "gres:gpu:2" up to 23.02, "gres/gpu:2" since 23.11 (what
// srun --gres writes there: gres_prepend_tres_type).
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(23, 11, 0)
inline constexpr const char* kGresTresPrefix = "gres/";
#else
inline constexpr const char* kGresTresPrefix = "gres:";
#endif

// A job Slurm requeued for an expedited restart (25.11+: `sbatch --requeue=expedite` under SlurmctldParameters=
// enable_expedited_requeue): base state PENDING with JOB_EXPEDITING set, shown as "EXPEDITING", restarted by
// slurmctld itself at top priority once its nodes can run it. Older releases have no such requeue.
inline bool expediting([[maybe_unused]] uint32_t job_state) {
#ifdef JOB_EXPEDITING
  return (job_state & JOB_EXPEDITING) != 0;
#else
  return false;
#endif
}

}  // namespace autoresume::slurm_compat
