#include "perf/harness/report.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace runnel::perf {

namespace {

std::string rate_text(double rate) {
    if (rate <= 0) {
        return "closed";
    }
    char b[32];
    std::snprintf(b, sizeof(b), "%.0f/s", rate);
    return b;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof(b), "\\u%04x", c);
            out += b;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Our own JSON read back: the value after "key": (a number, or a string without escapes but \").
std::string field(const std::string& text, const std::string& key) {
    const auto at = text.find("\"" + key + "\":");
    if (at == std::string::npos) {
        return {};
    }
    size_t i = at + key.size() + 3;
    while (i < text.size() && text[i] == ' ') {
        ++i;
    }
    if (i < text.size() && text[i] == '"') {
        std::string out;
        for (++i; i < text.size() && text[i] != '"'; ++i) {
            if (text[i] == '\\' && i + 1 < text.size()) {
                ++i;
            }
            out += text[i];
        }
        return out;
    }
    const auto end = text.find_first_of(",}\n", i);
    return text.substr(i, end - i);
}

} // namespace

void print_table_header() {
    std::printf(
        "| run | rate | requests | p50 us | p90 us | p99 us | p99.9 us | p99.99 us | max us "
        "| achieved/s | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
}

void print_table_row(const run_report& r) {
    const auto& l = r.result;
    std::printf("| %s | %s | %lu |", r.label.c_str(), rate_text(r.rate).c_str(),
                static_cast<unsigned long>(l.latency.count()));
    for (double q : table_quantiles) {
        if (l.latency.count() == 0) {
            std::printf(" |");
        } else {
            std::printf(" %.1f |", l.latency.us(q));
        }
    }
    if (r.mib_per_s > 0) {
        std::printf(" %.0f MiB/s |", r.mib_per_s);
    } else {
        std::printf(" %.0f |", l.rate());
    }
    std::string errors;
    if (l.failed) {
        errors += std::to_string(l.failed) + " failed; ";
    }
    if (l.duplicates) {
        errors += std::to_string(l.duplicates) + " duplicated; ";
    }
    if (l.missing) {
        errors += std::to_string(l.missing) + " missing; ";
    }
    if (!l.first_error.empty()) {
        errors += l.first_error;
    }
    if (l.interrupted) {
        errors += errors.empty() ? "interrupted" : " (interrupted)";
    }
    std::printf(" %s |\n", errors.empty() ? "none" : errors.c_str());
    std::fflush(stdout);
}

std::string to_json(const run_report& r) {
    const auto& l = r.result;
    std::ostringstream o;
    o << "{\"label\": " << json_string(r.label) << ",\n \"scenario\": " << json_string(r.scenario)
      << ", \"transport\": " << json_string(r.transport)
      << ", \"durability\": " << json_string(r.durability) << ",\n \"rate\": " << r.rate
      << ", \"record_bytes\": " << r.record_bytes << ", \"batch\": " << r.batch
      << ", \"partitions\": " << r.partitions << ", \"producers\": " << r.producers
      << ", \"consumers\": " << r.consumers << ", \"seconds\": " << r.seconds
      << ",\n \"sent\": " << l.sent << ", \"measured\": " << l.measured
      << ", \"acked\": " << l.acked << ", \"consumed\": " << l.consumed
      << ", \"failed\": " << l.failed << ", \"duplicates\": " << l.duplicates
      << ", \"missing\": " << l.missing
      << ", \"interrupted\": " << (l.interrupted ? "true" : "false")
      << ", \"error\": " << json_string(l.first_error)
      << ",\n \"measured_seconds\": " << l.measured_seconds << ", \"achieved_rate\": " << l.rate()
      << ", \"mib_per_s\": " << r.mib_per_s << ",\n \"count\": " << l.latency.count();
    const char* names[] = {"p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us"};
    for (size_t i = 0; i < std::size(table_quantiles); ++i) {
        o << ", \"" << names[i] << "\": " << l.latency.us(table_quantiles[i]);
    }
    o << ",\n \"buckets_ns\": [";
    bool first = true;
    l.latency.for_each_bucket([&](uint64_t value, uint64_t n) {
        o << (first ? "" : ", ") << "[" << value << ", " << n << "]";
        first = false;
    });
    o << "]}\n";
    return o.str();
}

result<run_report, std::string> from_json(const std::string& text) {
    run_report r;
    r.label = field(text, "label");
    if (r.label.empty()) {
        return failure(std::string("not a runnel-perf run (no \"label\")"));
    }
    r.scenario = field(text, "scenario");
    r.transport = field(text, "transport");
    r.durability = field(text, "durability");
    r.rate = std::atof(field(text, "rate").c_str());
    r.record_bytes = uint32_t(std::atoi(field(text, "record_bytes").c_str()));
    r.mib_per_s = std::atof(field(text, "mib_per_s").c_str());
    r.result.measured_seconds = std::atof(field(text, "measured_seconds").c_str());
    r.result.first_error = field(text, "error");
    const auto at = text.find("\"buckets_ns\": [");
    if (at == std::string::npos) {
        return failure(std::string("no \"buckets_ns\""));
    }
    const char* p = text.c_str() + at + 15;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n') {
            ++p;
        }
        if (*p != '[') {
            break;
        }
        char* end = nullptr;
        const uint64_t value = std::strtoull(p + 1, &end, 10);
        const uint64_t n = std::strtoull(end + 1, &end, 10);
        if (*end != ']') {
            return failure(std::string("a malformed bucket in \"buckets_ns\""));
        }
        r.result.latency.record(value, n);
        p = end + 1;
    }
    return r;
}

result<void, std::string> plot(const std::string& png, const std::vector<run_report>& runs,
                               const std::string& title) {
    const std::string base = png.substr(0, png.rfind('.'));
    std::ofstream gp(base + ".gp");
    gp << "set terminal pngcairo size 1100,650 noenhanced\nset output '" << png << "'\n"
       << "set title '" << title << "'\nset logscale x\nset logscale y\n"
       << "set xlabel 'percentile'\nset ylabel 'latency (us)'\nset grid\n"
       << "set key top left\nset xrange [1:100000]\n"
       << "set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
          "'99.999%%' 100000)\nplot ";
    int n = 0;
    for (const auto& r : runs) {
        if (r.result.latency.count() == 0) {
            continue;
        }
        const std::string data = base + "." + std::to_string(n) + ".dat";
        std::ofstream d(data);
        // 1/(1-q) spreads the tail: 10 steps per decade up to 99.999%.
        for (int k = 0; k <= 50; ++k) {
            const double q = 1.0 - std::pow(10.0, -double(k) / 10.0);
            d << 1.0 / (1.0 - q) << " " << r.result.latency.us(k == 0 ? 0.0 : q) << "\n";
        }
        gp << (n ? ", " : "") << "'" << data << "' using 1:2 with lines lw 2 title '" << r.label
           << "'";
        ++n;
    }
    gp << "\n";
    gp.close();
    if (n == 0) {
        return failure(std::string("no run with latencies to plot"));
    }
    const std::string cmd = "gnuplot '" + base + ".gp' 2>&1";
    FILE* out = ::popen(cmd.c_str(), "r");
    if (out == nullptr) {
        return failure(std::string("cannot run gnuplot"));
    }
    std::string said;
    char buf[256];
    while (std::fgets(buf, sizeof(buf), out) != nullptr) {
        said += buf;
    }
    const int status = ::pclose(out);
    if (status != 0) {
        return failure("gnuplot failed (is gnuplot-nox installed?): " + said);
    }
    return {};
}

} // namespace runnel::perf
