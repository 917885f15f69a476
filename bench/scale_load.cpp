// SPDX-License-Identifier: GPL-2.0-or-later
// The load of bench/scale, put on a real slurmctld through libslurm (sbatch would take minutes for 100,000 jobs):
//
//   scale_load submit N PARTITION [THREADS]   N held batch jobs (priority 0: they never run), THREADS at a time
//   scale_load churn PARTITION                 once a second: one held job submitted, the oldest it submitted
//                                              cancelled (two job-table changes a second), until SIGTERM/SIGINT
//
// Both print one line per second of what they did. SLURM_CONF names the cluster.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "autoresume/slurm_compat.hpp"

namespace {

namespace compat = autoresume::slurm_compat;

std::atomic<bool> stop{false};

// One held job: it stays in the job table, pending with Reason=JobHeldAdmin, as a user's queued work would.
uint32_t submit_held(const std::string& partition) {
  job_desc_msg_t job;
  slurm_init_job_desc_msg(&job);
  std::string name = "scale-load", part = partition, script = "#!/bin/sh\ntrue\n", out = "/dev/null", cwd = "/",
              path = "PATH=/usr/bin:/bin";
  char* env[] = {path.data()};
  job.name = name.data();
  job.partition = part.data();
  job.script = script.data();
  job.std_out = out.data();
  job.work_dir = cwd.data();
  job.environment = env;
  job.env_size = 1;
  job.user_id = getuid();
  job.group_id = getgid();
  job.min_nodes = 1;
  job.priority = 0;
  job.time_limit = 10;
  submit_response_msg_t* resp = nullptr;
  if (slurm_submit_batch_job(&job, &resp) != SLURM_SUCCESS) {
    std::fprintf(stderr, "scale_load: submit: %s\n", slurm_strerror(compat::last_errno()));
    return 0;
  }
  uint32_t id = compat::job_id_of(*resp);
  slurm_free_submit_response_response_msg(resp);
  return id;
}

int submit(long n, const std::string& partition, int threads) {
  std::atomic<long> next{0}, done{0}, failed{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (next.fetch_add(1) < n) {
        if (submit_held(partition) == 0 && ++failed > 100) return;
        ++done;
      }
    });
  for (auto& t : pool) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("submitted %ld held jobs in %.1f s (%.0f/s), %ld failed\n", done.load() - failed.load(), s,
              static_cast<double>(done.load()) / s, failed.load());
  return failed > 0 ? 1 : 0;
}

int churn(const std::string& partition) {
  std::signal(SIGTERM, [](int) { stop = true; });
  std::signal(SIGINT, [](int) { stop = true; });
  std::deque<uint32_t> mine;
  long submitted = 0, cancelled = 0;
  auto next = std::chrono::steady_clock::now();
  while (!stop) {
    if (uint32_t id = submit_held(partition)) {
      mine.push_back(id);
      ++submitted;
    }
    if (mine.size() > 1) {
      if (compat::kill_job(mine.front(), SIGKILL, 0) == SLURM_SUCCESS) ++cancelled;
      mine.pop_front();
    }
    std::printf("churn: %ld submitted, %ld cancelled\n", submitted, cancelled);
    std::fflush(stdout);
    next += std::chrono::seconds(1);
    std::this_thread::sleep_until(next);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  slurm_init(nullptr);
  if (cmd == "submit" && argc >= 4) return submit(std::atol(argv[2]), argv[3], argc > 4 ? std::atoi(argv[4]) : 4);
  if (cmd == "churn" && argc >= 3) return churn(argv[2]);
  std::fprintf(stderr, "usage: scale_load submit N PARTITION [THREADS] | scale_load churn PARTITION\n");
  return 2;
}
