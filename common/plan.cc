#include "common/plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "common/trace.h"

namespace bench {
namespace {

std::string FormatRate(double rate) {
  char buffer[40];
  if (rate >= 100 || rate == std::floor(rate)) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", rate);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.3g", rate);
  }
  return buffer;
}

std::string FormatCount(double count) {
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.0f", std::round(count));
  return buffer;
}

// Bursts released in [0, window): one at 0, every, 2*every, ...
int64_t BurstsIn(absl::Duration window, absl::Duration every) {
  if (window <= absl::ZeroDuration()) return 0;
  const int64_t window_ns = absl::ToInt64Nanoseconds(window);
  const int64_t every_ns = absl::ToInt64Nanoseconds(every);
  return (window_ns + every_ns - 1) / every_ns;
}

// True when `path` is a regular file this process can open; otherwise why not, in `note`.
bool CanReadHere(const std::string& path, std::string* note) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *note = "cannot read " + path + " here: " + std::strerror(errno);
    return false;
  }
  struct stat info {};
  const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  ::close(fd);
  if (!regular) *note = path + " is not a regular file";
  return regular;
}

// The most records within any 1 s (records are sorted).
double PeakPerSecond(const Trace& trace) {
  size_t first = 0;
  size_t peak = 0;
  for (size_t last = 0; last < trace.records.size(); ++last) {
    while (trace.records[last].offset_ns - trace.records[first].offset_ns >= 1'000'000'000) {
      ++first;
    }
    peak = std::max(peak, last - first + 1);
  }
  return static_cast<double>(peak);
}

// Fills the trace fields of `plan` from the file; the window cuts the trace (RESULTS.md).
void PlanTrace(const BenchmarkConfig& config, Plan& plan, std::optional<double>& measured) {
  const std::string& path = config.load.trace;
  if (!CanReadHere(path, &plan.trace_note)) return;
  absl::StatusOr<Trace> trace = ReadTraceFile(path);
  if (!trace.ok()) {
    plan.trace_error = std::string(trace.status().message());
    plan.trace_note = "the trace file has errors";
    return;
  }
  const int64_t warmup = absl::ToInt64Nanoseconds(plan.warmup);
  const int64_t total = absl::ToInt64Nanoseconds(plan.total);
  const int64_t count = static_cast<int64_t>(trace->records.size());
  plan.trace_requests = count;
  plan.trace_span = absl::Nanoseconds(trace->span_ns());
  plan.trace_out_of_order = trace->out_of_order;
  plan.warmup_requests = static_cast<double>(trace->CountBetween(0, warmup));
  measured = static_cast<double>(trace->CountBetween(warmup, total));
  plan.trace_not_sent = trace->CountBetween(total, std::numeric_limits<int64_t>::max());
  const double window_s = absl::ToDoubleSeconds(plan.measurement);
  plan.mean_rate = window_s > 0 ? *measured / window_s : 0;
  plan.peak_rate = PeakPerSecond(*trace);
  if (plan.max_requests > 0 && *measured > static_cast<double>(plan.max_requests)) {
    // The first measured record the cap keeps back.
    const int64_t first_unsent = static_cast<int64_t>(*plan.warmup_requests) + plan.max_requests;
    plan.cap_reached_after =
        absl::Nanoseconds(trace->records[static_cast<size_t>(first_unsent)].offset_ns) -
        plan.warmup;
  }
  plan.trace = std::make_shared<const Trace>(*std::move(trace));
}

// Seconds into the measurement window at which the `count`-th request is sent, for the open-loop
// shapes whose schedule is fixed (the mean schedule for Poisson and gamma).
std::optional<absl::Duration> TimeToReach(const BenchmarkConfig& config, double count) {
  const LoadConfig& load = config.load;
  const double window = absl::ToDoubleSeconds(config.benchmark.duration);
  switch (load.type) {
    case LoadType::kConstant:
    case LoadType::kPoisson:
    case LoadType::kGamma:
      return absl::Seconds(count / load.rate);
    case LoadType::kRamp: {
      // count = from*t + (to - from) * t^2 / (2 * window)
      const double a = (load.ramp.to - load.ramp.from) / (2 * window);
      const double b = load.ramp.from;
      if (std::fabs(a) < 1e-12) return absl::Seconds(count / b);
      const double t = (-b + std::sqrt(b * b + 4 * a * count)) / (2 * a);
      return absl::Seconds(t);
    }
    case LoadType::kBurst: {
      const double bursts = std::ceil(count / static_cast<double>(load.burst.size));
      return (bursts - 1) * load.burst.every;
    }
    case LoadType::kStages: {
      double sent = 0;
      absl::Duration start = absl::ZeroDuration();
      for (const StageConfig& stage : load.stages) {
        const double in_stage = stage.rate * absl::ToDoubleSeconds(stage.duration);
        if (sent + in_stage >= count) return start + absl::Seconds((count - sent) / stage.rate);
        sent += in_stage;
        start += stage.duration;
      }
      return start;
    }
    case LoadType::kConcurrency:
    case LoadType::kTrace:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Plan MakePlan(const BenchmarkConfig& config, const PlanOptions& options) {
  Plan plan;
  const LoadConfig& load = config.load;
  plan.name = config.benchmark.name;
  plan.endpoint = config.target.endpoint;
  plan.model = config.target.model;
  plan.protocol = config.target.protocol;
  if (!plan.endpoint.empty()) {
    if (absl::StatusOr<EndpointUrl> url = ParseEndpoint(plan.endpoint); url.ok()) {
      plan.api = url->api;
    }
  }
  plan.type = load.type;
  plan.warmup = config.benchmark.warmup;
  plan.measurement = config.benchmark.duration;
  plan.total = plan.warmup + plan.measurement;
  plan.closed_loop = !IsOpenLoop(load.type);
  plan.in_flight = load.concurrency;
  plan.max_requests = config.benchmark.max_requests;

  const double window_s = absl::ToDoubleSeconds(plan.measurement);
  const double warmup_s = absl::ToDoubleSeconds(plan.warmup);
  const std::string rate_text = FormatRate(load.rate) + " requests/s";
  switch (load.type) {
    case LoadType::kConstant:
      plan.shape = rate_text + ", evenly spaced";
      break;
    case LoadType::kPoisson:
      plan.shape = rate_text + " on average, Poisson arrivals (exponential gaps)";
      break;
    case LoadType::kGamma:
      plan.shape = rate_text +
                   " on average, gamma-distributed gaps (shape k = " + FormatRate(load.burstiness) +
                   (load.burstiness < 1   ? ", burstier than Poisson)"
                    : load.burstiness > 1 ? ", smoother than Poisson)"
                                          : ", the same as Poisson)");
      break;
    case LoadType::kRamp:
      plan.shape = "linear ramp from " + FormatRate(load.ramp.from) + " to " +
                   FormatRate(load.ramp.to) + " requests/s over " +
                   FormatCompactDuration(plan.measurement);
      break;
    case LoadType::kBurst:
      plan.shape = "bursts of " + std::to_string(load.burst.size) + " requests at once every " +
                   FormatCompactDuration(load.burst.every);
      break;
    case LoadType::kStages:
      plan.shape = std::to_string(load.stages.size()) + " stage" +
                   (load.stages.size() == 1 ? "" : "s") + " of constant rate, one result each";
      break;
    case LoadType::kConcurrency:
      if (config.prompts.type == PromptsType::kConversation) {
        plan.conversations = true;
        const ConversationConfig& c = config.prompts.conversation;
        const std::string turns = c.turns.min == c.turns.max
                                      ? std::to_string(c.turns.max)
                                      : FormatRate(c.turns.mean) + " (" +
                                            std::to_string(c.turns.min) + " to " +
                                            std::to_string(c.turns.max) + ")";
        plan.shape = "closed loop, " + std::to_string(load.concurrency) +
                     " users each holding one conversation of " + turns +
                     " turns: a turn is sent " + FormatCompactDuration(c.think_time) +
                     " after the previous reply, with the whole history";
        if (!config.prompts.dataset.empty()) {
          plan.shape += " (turns from " + config.prompts.dataset + ", at most " +
                        std::to_string(c.turns.max) + ")";
        }
        if (!c.session_header.empty()) {
          plan.shape += "; header " + c.session_header + " names the conversation";
        }
        break;
      }
      plan.shape = "closed loop, " + std::to_string(load.concurrency) +
                   " in flight (each completion starts the next request)";
      break;
    case LoadType::kTrace:
      plan.shape = "replay of the trace file " + load.trace + " (its timestamps set the schedule)";
      break;
  }

  std::optional<double> measured;
  switch (load.type) {
    case LoadType::kConstant:
    case LoadType::kPoisson:
    case LoadType::kGamma:
      measured = load.rate * window_s;
      plan.warmup_requests = load.rate * warmup_s;
      plan.mean_rate = plan.peak_rate = load.rate;
      break;
    case LoadType::kRamp:
      measured = (load.ramp.from + load.ramp.to) / 2 * window_s;
      plan.warmup_requests = load.ramp.from * warmup_s;  // Warmup holds the starting rate.
      plan.mean_rate = (load.ramp.from + load.ramp.to) / 2;
      plan.peak_rate = std::max(load.ramp.from, load.ramp.to);
      break;
    case LoadType::kBurst: {
      const double size = static_cast<double>(load.burst.size);
      measured = size * static_cast<double>(BurstsIn(plan.measurement, load.burst.every));
      plan.warmup_requests = size * static_cast<double>(BurstsIn(plan.warmup, load.burst.every));
      plan.mean_rate = window_s > 0 ? *measured / window_s : 0;
      plan.peak_rate = size * static_cast<double>(BurstsIn(absl::Seconds(1), load.burst.every));
      break;
    }
    case LoadType::kStages: {
      double total = 0;
      absl::Duration start = absl::ZeroDuration();
      for (const StageConfig& stage : load.stages) {
        StagePlan row;
        row.rate = stage.rate;
        row.start = start;
        row.duration = stage.duration;
        row.expected_requests = stage.rate * absl::ToDoubleSeconds(stage.duration);
        total += row.expected_requests;
        plan.peak_rate = std::max(plan.peak_rate, stage.rate);
        start += stage.duration;
        plan.stages.push_back(row);
      }
      measured = total;
      const double stages_s = absl::ToDoubleSeconds(start);
      plan.mean_rate = stages_s > 0 ? total / stages_s : 0;
      // Warmup runs the first stage's rate.
      plan.warmup_requests = load.stages.empty() ? 0 : load.stages.front().rate * warmup_s;
      break;
    }
    case LoadType::kConcurrency:
      plan.warmup_requests = std::nullopt;
      break;
    case LoadType::kTrace:
      if (options.read_trace_file) {
        PlanTrace(config, plan, measured);
      } else {
        plan.trace_note = "the trace file was not read";
      }
      break;
  }

  if (plan.max_requests > 0) {
    const double cap = static_cast<double>(plan.max_requests);
    if (!measured.has_value() || *measured > cap) {
      plan.capped = measured.has_value();
      if (plan.capped && load.type != LoadType::kTrace) {
        plan.cap_reached_after = TimeToReach(config, cap);
      }
      measured = cap;
    }
  }
  plan.measured_requests = measured;
  return plan;
}

std::string RenderPlan(const Plan& plan) {
  std::string out;
  const auto row = [&out](std::string_view label, const std::string& text) {
    if (!out.empty()) out += '\n';
    out += std::string(label);
    if (text.empty()) return;
    out.append(label.size() < 12 ? 12 - label.size() : 1, ' ');
    out += text;
  };
  row("benchmark:", plan.name);
  if (plan.endpoint.empty()) {
    row("target:", "not set (run needs --endpoint URL and --model NAME)");
  } else {
    std::string target = plan.endpoint;
    if (plan.api.has_value()) target += " (" + std::string(ApiName(*plan.api)) + " API)";
    target += plan.model.empty()
                  ? ", model not set (the run takes the one /v1/models lists, or --model NAME)"
                  : ", model " + plan.model;
    target += ", protocol " + std::string(ProtocolName(plan.protocol));
    row("target:", target);
  }
  row("duration:", FormatCompactDuration(plan.warmup) + " warmup + " +
                       FormatCompactDuration(plan.measurement) +
                       " measured = " + FormatCompactDuration(plan.total) + " in all");

  std::string load = std::string(LoadTypeName(plan.type)) + ": " + plan.shape;
  if (!plan.closed_loop) {
    load += plan.in_flight > 0 ? ", at most " + std::to_string(plan.in_flight) + " in flight"
                               : ", no cap on requests in flight";
    load += " (open loop)";
  }
  row("load:", load);

  std::string requests;
  if (plan.measured_requests.has_value()) {
    if (plan.closed_loop) {
      requests = "at most " + FormatCount(*plan.measured_requests) +
                 " measured (benchmark.maxRequests), fewer if the window ends first";
    } else {
      requests = "about " + FormatCount(*plan.measured_requests) + " measured";
      if (plan.capped) {
        requests += " (capped by benchmark.maxRequests";
        if (plan.cap_reached_after.has_value()) {
          requests +=
              ", reached after about " +
              FormatCompactDuration(absl::Trunc(*plan.cap_reached_after, absl::Milliseconds(1)));
        }
        requests += ")";
      }
    }
  } else if (plan.type == LoadType::kTrace) {
    requests = "from the trace file (" + plan.trace_note + ")";
  } else {
    requests = "as many as complete: closed loop, " + std::to_string(plan.in_flight) +
               (plan.conversations ? " users" : " in flight") + ", no fixed count";
  }
  if (plan.warmup_requests.has_value() && plan.warmup > absl::ZeroDuration()) {
    requests += ", about " + FormatCount(*plan.warmup_requests) + " in warmup";
  }
  row("requests:", requests);
  if (plan.type == LoadType::kTrace && plan.trace_requests.has_value()) {
    std::string trace = std::to_string(*plan.trace_requests) + " records over " +
                        FormatCompactDuration(absl::Trunc(plan.trace_span, absl::Milliseconds(1)));
    if (plan.trace_not_sent > 0) {
      trace += "; " + std::to_string(plan.trace_not_sent) +
               " at or after warmup + duration are not sent (raise benchmark.duration to replay "
               "them)";
    }
    if (plan.trace_out_of_order > 0) {
      trace += "; " + std::to_string(plan.trace_out_of_order) +
               " lines were out of time order and are replayed sorted";
    }
    trace +=
        "; prompts are synthetic with each record's lengths (prompts.inputLength and "
        "outputLength unused)";
    row("trace:", trace);
  }
  if (!plan.trace_error.empty()) {
    row("trace:", "ERRORS in the trace file:");
    size_t start = 0;
    while (start <= plan.trace_error.size()) {
      const size_t end = plan.trace_error.find('\n', start);
      out += "\n  " + plan.trace_error.substr(start, end == std::string::npos ? end : end - start);
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  if (!plan.closed_loop && (plan.type != LoadType::kTrace || plan.trace_requests.has_value())) {
    std::string rate =
        "mean " + FormatRate(plan.mean_rate) + "/s, peak " + FormatRate(plan.peak_rate) + "/s";
    if (plan.type == LoadType::kBurst) rate += " (requests released within one second)";
    row("rate:", rate);
  }
  if (!plan.stages.empty()) {
    row("stages:", "");
    char line[160];
    std::snprintf(line, sizeof(line), "  %5s  %-12s %-12s %10s %10s", "stage", "start", "duration",
                  "rate/s", "requests");
    out += '\n';
    out += line;
    for (size_t i = 0; i < plan.stages.size(); ++i) {
      const StagePlan& stage = plan.stages[i];
      std::snprintf(line, sizeof(line), "  %5zu  %-12s %-12s %10s %10s", i + 1,
                    FormatCompactDuration(stage.start).c_str(),
                    FormatCompactDuration(stage.duration).c_str(), FormatRate(stage.rate).c_str(),
                    FormatCount(stage.expected_requests).c_str());
      out += '\n';
      out += line;
    }
  }
  return out;
}

}  // namespace bench
