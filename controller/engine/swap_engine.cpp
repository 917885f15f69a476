// SPDX-License-Identifier: GPL-2.0-or-later
// In-place retry of the steps that asked for it (docs/in-place.md): the failed node leaves the job, a healthy one
// joins it through a one-node expansion allocation, and the steps' sruns run their command lines again once the
// job's AdminComment says so. One stage per tick at most that sends something to Slurm; each stage is journaled
// (the record's swap_stage) before its action and is either safe to send again or read back after a restart.
#include <algorithm>
#include <csignal>

#include "autoresume/intent.hpp"
#include "engine/controller.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace autoresume {
namespace {

// Steps that are the user's: not the batch script, the extern step or an interactive step's pseudo ids.
constexpr uint32_t kFirstPseudoStep = 0xfffffff0u;

std::string id(uint32_t job_id) { return std::to_string(job_id); }

// The steps of a swap, for logs and events.
std::string steps_text(const std::vector<uint32_t>& ids) { return ids.empty() ? "none" : join_ids(ids); }

JobDecision to(JobPhase phase, std::string why, std::string event = "") {
  JobDecision d;
  d.phase = phase;
  d.why = std::move(why);
  d.event = std::move(event);
  return d;
}

}  // namespace

std::string expansion_job_name(uint32_t job_id) { return "autoresume-expand-" + std::to_string(job_id); }

Status Controller::write_swap_token(const JobRecord& r, const Job& job, SwapState::Stage stage) {
  SwapState s{r.swaps, stage, r.swap_steps};
  std::string token = swap_token(s);
  std::string comment = merge_token(job.admin_comment, kSwapKey, token);
  if (comment == job.admin_comment) return ok_status();
  return act("admin_comment", id(r.job_id), token, [&] { return slurm_.set_admin_comment(r.job_id, comment); });
}

// No in-place retry after all: the steps' sruns are told (they exit), the expansion allocation (if any) goes,
// and the whole job is requeued by the ordinary path.
JobDecision Controller::swap_fallback(JobRecord& r, const Job& job, const std::string& why) {
  if (r.swap_job != 0) {
    uint32_t e = r.swap_job;
    if (!act("cancel", id(e), "expansion allocation of job " + id(r.job_id), [&] { return slurm_.cancel_job(e); }))
      return to(JobPhase::Swapping, "");  // tried again next tick
  }
  if (r.swap_stage != SwapStage::None && !write_swap_token(r, job, SwapState::Stage::Requeue))
    return to(JobPhase::Swapping, "");
  r.swap_stage = SwapStage::None;
  r.swap_job = 0;
  return to(JobPhase::Requeueing, "in-place retry impossible: " + why + "; the whole job is requeued", "in_place_fallback");
}

JobDecision Controller::swap_step(JobRecord& r, const std::optional<Job>& job, bool& acted) {
  double now = unix_now();
  if (!job) {
    r.swap_stage = SwapStage::None;
    return to(JobPhase::Finished, "no longer known to Slurm");
  }
  const std::string& failed = r.failed_node;
  if (job->restart_count > r.restart_seen) {  // Slurm requeued the whole job: its node went DOWN first
    if (r.swap_job != 0) act("cancel", id(r.swap_job), "expansion allocation", [&] { return slurm_.cancel_job(r.swap_job); });
    r.swap_stage = SwapStage::None;
    r.swap_job = 0;
    JobDecision d = to(JobPhase::WaitingPending, "Slurm requeued the whole job before the swap of " + failed + " was done",
                       "in_place_fallback");
    d.count_attempt = d.acknowledge_restart = true;
    return d;
  }
  if (!job->active()) {
    if (r.swap_job != 0) act("cancel", id(r.swap_job), "expansion allocation", [&] { return slurm_.cancel_job(r.swap_job); });
    r.swap_stage = SwapStage::None;
    r.swap_job = 0;
    return to(JobPhase::Finished, std::string("ended ") + to_string(job->state) + " during the swap");
  }
  auto stage = [&](SwapStage s) {
    r.swap_stage = s;
    store_.save_job(r);  // journaled before the stage's action
  };
  bool in_job = std::find(job->nodes.begin(), job->nodes.end(), failed) != job->nodes.end();

  switch (r.swap_stage) {
    case SwapStage::None: {
      acted = true;
      auto settings = slurm_.load_settings();
      if (!settings) return to(JobPhase::Swapping, "");
      // A resized job waits for its new accounting record before any other update (the token): slurmdbd is needed
      // even when a spare in the job spares the expansion.
      if (!settings->can_expand_jobs())
        return swap_fallback(r, *job, "slurmctld cannot grow a running job (SchedulerParameters=permit_job_expansion and "
                                      "AccountingStorageType=accounting_storage/slurmdbd are both needed)");
      if (!settings->can_shrink_jobs()) return swap_fallback(r, *job, "SchedulerParameters has disable_job_shrink");
      if (failed == job->batch_host) return swap_fallback(r, *job, "the failed node " + failed + " runs the batch script");
      if (job->num_nodes < 2) return swap_fallback(r, *job, "a one-node job keeps no node to swap into");
      auto steps = slurm_.load_steps(r.job_id);
      if (!steps) return to(JobPhase::Swapping, "");
      r.swap_steps.clear();
      size_t need = 0;
      for (const JobStep& s : *steps)
        if (s.id < kFirstPseudoStep && std::find(s.nodes.begin(), s.nodes.end(), failed) != s.nodes.end()) {
          r.swap_steps.push_back(s.id);
          need = std::max(need, s.nodes.size());
        }
      // Slurm cannot merge an allocation into a job that holds GRES (select/cons_tres, every release): such a
      // job's steps are retried on a node it holds and no step uses (a spare in the job), or it is requeued.
      if (job->has_gres && (need == 0 || need > job->num_nodes - 1))
        return swap_fallback(r, *job, "Slurm cannot grow a job that holds GRES, and no node of the job is left spare for "
                                      "the step (keep one: sbatch -N " + std::to_string(need + 1) + ", srun -N " +
                                      std::to_string(need) + ")");
      ++r.swaps;
      r.swap_width = need == 0 ? job->num_nodes : static_cast<uint32_t>(need);
      r.swap_started = now;
      stage(SwapStage::Marked);
      // The token first: a step's srun that exits from here on finds its step listed and waits for the swap.
      if (!write_swap_token(r, *job, SwapState::Stage::Swapping)) return to(JobPhase::Swapping, "");
      auto f = failed_.find(failed);
      bool alive = f != failed_.end() && f->second.alive;
      if (alive && config_.signal_before_requeue != 0)
        for (uint32_t s : r.swap_steps)
          act("signal", id(r.job_id) + "." + std::to_string(s), "checkpoint signal before the swap",
              [&] { return slurm_.signal_step(r.job_id, s, config_.signal_before_requeue); });
      else
        r.swap_started -= static_cast<double>(config_.requeue_grace.count());  // no grace to wait
      store_.save_job(r);
      log(LogLevel::Info, "swap_marked", {{"job", id(r.job_id)}, {"node", failed}, {"steps", steps_text(r.swap_steps)},
                                          {"swap", std::to_string(r.swaps)}});
      return to(JobPhase::Swapping, "");
    }
    case SwapStage::Marked: {
      bool grace_over = now - r.swap_started >= static_cast<double>(config_.requeue_grace.count());
      if (!grace_over) {  // the signalled steps may end by themselves (checkpoint written) before the grace is over
        auto steps = slurm_.load_steps(r.job_id);
        bool left = !steps || std::any_of(steps->begin(), steps->end(), [&](const JobStep& s) {
          return std::find(r.swap_steps.begin(), r.swap_steps.end(), s.id) != r.swap_steps.end();
        });
        if (left) return to(JobPhase::Swapping, "");
      }
      acted = true;
      if (in_job) {
        std::vector<std::string> keep;
        for (const auto& n : job->nodes)
          if (n != failed) keep.push_back(n);
        Status s = act("shrink", id(r.job_id), "without " + failed, [&] { return slurm_.shrink_job(r.job_id, keep); });
        if (!s) return s.error().refusal ? swap_fallback(r, *job, "Slurm refused to release " + failed + ": " + s.error().message)
                                         : to(JobPhase::Swapping, "");
      }
      for (uint32_t step : r.swap_steps)
        if (!act("end_step", id(r.job_id) + "." + std::to_string(step), "ran on " + failed,
                 [&] { return slurm_.signal_step(r.job_id, step, SIGKILL); }))
          return to(JobPhase::Swapping, "");
      stage(SwapStage::Shrunk);
      return to(JobPhase::Swapping, "");
    }
    case SwapStage::Shrunk:
    case SwapStage::Expanding: {
      if (job->num_nodes >= r.swap_width && r.swap_job == 0) {  // a node of the job no step used takes the place
        stage(SwapStage::Merging);
        return to(JobPhase::Swapping, "");
      }
      if (r.swap_stage == SwapStage::Expanding && r.swap_job == 0) {
        // Asked for before a crash, its id not journaled: a sweep finds it by name, else it is asked for again.
        if (!swept_now_) return to(JobPhase::Swapping, "");
        for (const auto& [jid, j] : jobs_now_)
          // Asked for as the job's user; some releases record the allocation as root's (the caller) instead.
          if (j.name == expansion_job_name(r.job_id) && (j.user_id == job->user_id || j.user_id == 0) && j.active())
            r.swap_job = jid;
        if (r.swap_job != 0) {
          store_.save_job(r);
          return to(JobPhase::Swapping, "");
        }
      }
      if (r.swap_job == 0) {
        acted = true;
        stage(SwapStage::Expanding);
        // Never the failed node, nor one the job has already: Slurm would merge a second share of that node.
        std::vector<std::string> exclude = job->nodes;
        exclude.push_back(failed);
        ExpansionSpec spec{r.job_id, job->user_id, job->group_id, job->partition, job->account, expansion_job_name(r.job_id),
                           exclude};
        Result<uint32_t> e = Error{};
        Status s = act("expand", id(r.job_id), "one node in place of " + failed, [&]() -> Status {
          e = slurm_.allocate_expansion(spec);
          return e ? ok_status() : Status(e.error());
        });
        if (!s) return s.error().refusal ? swap_fallback(r, *job, "Slurm refused the expansion: " + s.error().message)
                                         : to(JobPhase::Swapping, "");
        r.swap_job = *e;
        store_.save_job(r);
        return to(JobPhase::Swapping, "");
      }
      auto e = jobs_now_.find(r.swap_job);
      bool waited_out = now - r.swap_started >= static_cast<double>(config_.in_place_wait.count());
      if (e == jobs_now_.end() || !e->second.active())
        return swap_fallback(r, *job, "the expansion allocation " + id(r.swap_job) + " ended before it could be merged");
      if (e->second.state == JobState::Running) {
        acted = true;
        stage(SwapStage::Merging);
        Status s = act("merge", id(r.swap_job), "into job " + id(r.job_id),
                       [&] { return slurm_.merge_expansion(r.swap_job); });
        if (!s && s.error().refusal) return swap_fallback(r, *job, "Slurm refused the merge: " + s.error().message);
        return to(JobPhase::Swapping, "");
      }
      if (waited_out) {
        acted = true;
        return swap_fallback(r, *job, "no healthy node for it within InPlaceWait (" +
                                          std::to_string(config_.in_place_wait.count()) + " s)");
      }
      return to(JobPhase::Swapping, "");
    }
    case SwapStage::Merging: {
      if (job->num_nodes < r.swap_width) {
        auto e = jobs_now_.find(r.swap_job);
        if (e != jobs_now_.end() && e->second.state == JobState::Running) {  // the merge did not happen: again
          acted = true;
          Status s = act("merge", id(r.swap_job), "into job " + id(r.job_id),
                         [&] { return slurm_.merge_expansion(r.swap_job); });
          if (!s && s.error().refusal) return swap_fallback(r, *job, "Slurm refused the merge: " + s.error().message);
          return to(JobPhase::Swapping, "");
        }
        return swap_fallback(r, *job, "the merge of " + id(r.swap_job) + " left the job at " +
                                          std::to_string(job->num_nodes) + " of " + std::to_string(r.swap_width) + " nodes");
      }
      acted = true;
      if (!write_swap_token(r, *job, SwapState::Stage::Ready)) return to(JobPhase::Swapping, "");
      // The steps' sruns are told now rather than finding out on their way out, after srun's own wait for the
      // dead node's tasks (KillWait + 2 s). A wake-up that does not arrive costs only that wait.
      if (job->batch) {
        std::string detail = "signal " + std::to_string(kSwapReadySignal) + " to the batch script's sruns, steps " +
                             steps_text(r.swap_steps);
        act("wake_sruns", id(r.job_id), detail, [&] { return slurm_.signal_batch_script(r.job_id, kSwapReadySignal); });
      }
      std::string joined;
      for (const auto& n : job->nodes)
        if (std::find(r.nodes.begin(), r.nodes.end(), n) == r.nodes.end()) joined += (joined.empty() ? "" : ",") + n;
      r.swap_stage = SwapStage::None;
      r.swap_job = 0;
      r.nodes = job->nodes;
      JobDecision d = to(JobPhase::Running,
                         "swap " + std::to_string(r.swaps) + ": " + failed + " out, " + (joined.empty() ? "a spare node of the job's own" : joined) +
                             " in; steps " + steps_text(r.swap_steps) + " run again (attempt " +
                             std::to_string(r.attempts + 1) + " of " + std::to_string(r.max_attempts) + ")",
                         "step_retried_in_place");
      d.count_attempt = true;
      return d;
    }
  }
  return to(JobPhase::Swapping, "");
}

}  // namespace autoresume
