// SPDX-License-Identifier: GPL-2.0-or-later
// The Slurm jobs metrics from the controller's sweeps: what a sweep counts, each start and end counted once
// across sweeps (also an unchanged table answered again, and jobs at the same second), the queue wait
// histogram, and what /metrics shows.
#include "catch_compat.hpp"

#include <pwd.h>

#include "engine/controller.hpp"
#include "engine/job_flow.hpp"
#include "http/metrics.hpp"
#include "slurm/fake_slurm.hpp"
#include "store/store.hpp"

using namespace autoresume;

namespace {

JobSweep sweep(std::time_t since, const std::vector<std::tuple<uint32_t, JobState, std::time_t, std::time_t, std::time_t>>& jobs,
               const std::string& partition = "gpu", uint32_t uid = 1000) {
  JobSweep s;
  for (const auto& [id, state, eligible, start, end] : jobs) s.tally(id, state, partition.c_str(), uid, eligible, start, end, since);
  return s;
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_CASE("job flow: a sweep counts live jobs, lists starts and ends since the mark", "[job_flow]") {
  JobSweep s = sweep(100, {{1, JobState::Pending, 90, 0, 0},
                           {2, JobState::Running, 80, 95, 0},    // started before the mark: not listed
                           {3, JobState::Running, 80, 110, 0},   // started after: waited 30 s
                           {4, JobState::Completed, 50, 60, 120},  // ended after the mark; started before it
                           {5, JobState::Failed, 100, 105, 107},   // started and ended between two sweeps
                           {6, JobState::Cancelled, 0, 0, 101}});  // cancelled while pending: an end, no start
  CHECK(s.active.at({JobState::Pending, "gpu", 1000}) == 1);
  CHECK(s.active.at({JobState::Running, "gpu", 1000}) == 2);
  CHECK(s.active.size() == 2);
  REQUIRE(s.started.size() == 2);
  CHECK(s.started[0].id == 3);
  CHECK(s.started[0].waited == 30);
  CHECK(s.started[1].id == 5);
  CHECK(s.started[1].waited == 5);
  REQUIRE(s.ended.size() == 3);
  CHECK(s.ended[0].id == 4);
  CHECK(s.ended[0].state == JobState::Completed);
  CHECK(s.ended[2].id == 6);
  CHECK(sweep(0, {{3, JobState::Running, 80, 110, 0}}).started.empty());  // no mark: nothing listed
}

TEST_CASE("job flow: each start and end is counted once across sweeps, also at the same second", "[job_flow]") {
  JobFlow flow;
  CHECK(flow.since() == 0);
  flow.add(sweep(0, {{1, JobState::Running, 10, 20, 0}}));  // before begin(): counted as live only
  CHECK(flow.totals().queue_waits.empty());
  flow.begin(100);
  CHECK(flow.since() == 100);
  JobSweep first = sweep(flow.since(), {{1, JobState::Running, 10, 20, 0},     // history: not counted
                                        {2, JobState::Running, 100, 150, 0},
                                        {3, JobState::Completed, 100, 120, 150}});
  flow.add(first);
  flow.add(first);  // the same answer again (table unchanged): nothing more
  const auto& t = flow.totals();
  REQUIRE(t.queue_waits.count("gpu") == 1);
  CHECK(t.queue_waits.at("gpu").count == 2);  // jobs 2 and 3
  CHECK(t.queue_waits.at("gpu").sum == 70);
  CHECK(t.ended.at({JobState::Completed, "gpu", 1000}) == 1);
  CHECK(flow.since() == 150);
  // A new job started in the second the last sweep saw (150), and job 2 seen again: only the new one counts.
  flow.add(sweep(flow.since(), {{2, JobState::Running, 100, 150, 0}, {4, JobState::Running, 149, 150, 0},
                                {2, JobState::Completed, 100, 150, 160}}));
  CHECK(t.queue_waits.at("gpu").count == 3);
  CHECK(t.ended.at({JobState::Completed, "gpu", 1000}) == 2);
  // A requeued job that starts again is a new start.
  flow.add(sweep(flow.since(), {{4, JobState::Running, 170, 200, 0}}));
  CHECK(t.queue_waits.at("gpu").count == 4);
  // Buckets are cumulative: waits of 50, 20, 1 and 30 s.
  const auto& bounds = JobFlow::wait_bounds();
  const auto& b = t.queue_waits.at("gpu").buckets;
  for (size_t i = 0; i < bounds.size(); ++i) {
    INFO(bounds[i]);
    uint64_t expect = (1 <= bounds[i]) + (20 <= bounds[i]) + (30 <= bounds[i]) + (50 <= bounds[i]);
    CHECK(b[i] == expect);
  }
}

TEST_CASE("job flow: /metrics shows jobs by state, partition and user, ends and queue waits", "[job_flow][metrics]") {
  const passwd* user = getpwnam("artest");
  REQUIRE(user);  // scripts/setup creates it
  FakeSlurm slurm;
  slurm.add_node("n1");
  Job& running = slurm.add_job(7, {"n1"});
  running.user_id = user->pw_uid;
  running.partition = "gpu";
  running.submit_time = 1, running.start_time = 2;  // before the controller: history
  Job& pending = slurm.add_job(8, {});
  pending.state = JobState::Pending;
  pending.user_id = 4242;  // no such user: the number
  pending.partition = "gpu";
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  Config config;
  Controller ctl(slurm, *store, config);
  Metrics m;
  ctl.set_observer(&m);
  ctl.recover();
  ctl.tick();
  m.update(*ctl.snapshot());
  std::string text = m.render();
  INFO(text);
  CHECK(has(text, "autoresume_slurm_jobs{partition=\"gpu\",state=\"running\",user=\"artest\"} 1"));
  CHECK(has(text, "autoresume_slurm_jobs{partition=\"gpu\",state=\"pending\",user=\"4242\"} 1"));
  CHECK(text.find("autoresume_slurm_job_queue_wait_seconds_count") == std::string::npos);

  // Job 8 starts 40 s after it became eligible; job 7 completes.
  std::time_t now = std::time(nullptr);
  slurm.jobs[8].state = JobState::Running;
  slurm.jobs[8].submit_time = now - 40, slurm.jobs[8].start_time = now;
  slurm.jobs[7].state = JobState::Completed;
  slurm.jobs[7].end_time = now;
  config.poll_interval = std::chrono::milliseconds(1);
  for (int i = 0; i < 3; ++i) ctl.tick(), m.update(*ctl.snapshot());  // swept again: counted once
  text = m.render();
  INFO(text);
  CHECK(has(text, "autoresume_slurm_jobs{partition=\"gpu\",state=\"running\",user=\"4242\"} 1"));
  CHECK(text.find("state=\"running\",user=\"artest\"") == std::string::npos);  // gone, not 0
  CHECK(has(text, "autoresume_slurm_jobs_ended_total{partition=\"gpu\",state=\"completed\",user=\"artest\"} 1"));
  CHECK(has(text, "autoresume_slurm_job_queue_wait_seconds_count{partition=\"gpu\"} 1"));
  CHECK(has(text, "autoresume_slurm_job_queue_wait_seconds_sum{partition=\"gpu\"} 40"));
  CHECK(has(text, "autoresume_slurm_job_queue_wait_seconds_bucket{partition=\"gpu\",le=\"30\"} 0"));
  CHECK(has(text, "autoresume_slurm_job_queue_wait_seconds_bucket{partition=\"gpu\",le=\"60\"} 1"));
}

TEST_CASE("job flow: counters only from the acting controller, never back (a standby's or a lower total)", "[job_flow][metrics]") {
  auto totals = [](uint64_t ended, uint64_t started) {
    auto t = std::make_shared<JobFlowTotals>();
    if (ended) t->ended[{JobState::Completed, "gpu", 4242}] = ended;
    if (started) {
      QueueWaits& w = t->queue_waits["gpu"];
      w.buckets.assign(JobFlow::wait_bounds().size(), started);  // each waited 1 s
      w.count = started, w.sum = static_cast<double>(started);
    }
    return std::shared_ptr<const JobFlowTotals>(t);
  };
  Metrics m;
  ControllerSnapshot s;
  s.nodes = std::make_shared<const NodeTable>(std::vector<Node>{});
  s.job_flow = totals(5, 3);
  m.update(s);
  s.role.active = false;  // a standby's observer: its own, smaller totals
  s.job_flow = totals(1, 1);
  m.update(s);
  s.role.active = true;
  s.job_flow = totals(2, 2);  // lower than seen (another source): nothing added
  m.update(s);
  s.job_flow = totals(7, 4);
  m.update(s);
  std::string text = m.render();
  INFO(text);
  CHECK(has(text, "autoresume_slurm_jobs_ended_total{partition=\"gpu\",state=\"completed\",user=\"4242\"} 7"));
  CHECK(has(text, "autoresume_slurm_job_queue_wait_seconds_count{partition=\"gpu\"} 4"));
}
