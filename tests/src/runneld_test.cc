// Runs the real runneld binary (path in $RUNNELD, set by tests/src/meson.build).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

struct run_result {
    int exit_status = -1;
    std::string output; // stdout and stderr together
};

std::string runneld_path() {
    const char* p = std::getenv("RUNNELD");
    return p != nullptr ? p : "";
}

// Runs runneld with args (no shell: each arg is passed as is) until it exits.
run_result run(const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) {
        return {};
    }
    const std::string path = runneld_path();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        std::vector<char*> argv{const_cast<char*>(path.c_str())};
        for (const std::string& a : args) {
            argv.push_back(const_cast<char*>(a.c_str()));
        }
        argv.push_back(nullptr);
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    close(out[1]);
    run_result r;
    char buf[4096];
    for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) {
        r.output.append(buf, size_t(n));
    }
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// A loopback port nobody listens on now (the kernel's pick for port 0).
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    close(fd);
    return ok ? ntohs(addr.sin_port) : 0;
}

class runneld : public ::testing::Test {
protected:
    void SetUp() override {
        if (runneld_path().empty()) {
            GTEST_SKIP() << "RUNNELD is not set; run through meson test";
        }
    }
};

TEST_F(runneld, a_bad_config_value_exits_2_naming_key_value_and_allowed) {
    const run_result r = run({"--set", "log.ack_after=sometimes"});
    EXPECT_EQ(r.exit_status, 2);
    EXPECT_EQ(r.output, "config: log.ack_after = \"sometimes\" is not allowed; use one of: memory, "
                        "write, fsync\n");
}

TEST_F(runneld, an_unknown_option_exits_2) {
    const run_result r = run({"--port", "9092"});
    EXPECT_EQ(r.exit_status, 2);
    EXPECT_EQ(r.output, "config: unknown option --port; see runneld --help\n");
}

TEST_F(runneld, help_exits_0_and_lists_the_keys) {
    const run_result r = run({"--help"});
    EXPECT_EQ(r.exit_status, 0);
    EXPECT_NE(r.output.find("--set SECTION.KEY=VALUE"), std::string::npos);
    EXPECT_NE(r.output.find("log.message_timestamp_type"), std::string::npos);
}

TEST_F(runneld, version_exits_0) {
    const run_result r = run({"--version"});
    EXPECT_EQ(r.exit_status, 0);
    EXPECT_EQ(r.output.rfind("runneld ", 0), 0u) << r.output;
}

// Starts runneld, waits for its "started" line, sends SIGTERM and expects a clean stop.
TEST_F(runneld, stops_cleanly_on_sigterm) {
    char dir_template[] = "/tmp/runneld-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    const std::string path = runneld_path();
    const std::string port = "kafka.listen_port=" + std::to_string(free_port());
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        execl(path.c_str(), path.c_str(), "--data-dir", dir_template, "--set",
              "shards.idle_strategy=sleep", "--set", port.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(out[1]);
    std::string output;
    char buf[4096];
    bool signalled = false;
    for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) {
        output.append(buf, size_t(n));
        if (!signalled && output.find("runneld: started\n") != std::string::npos) {
            kill(pid, SIGTERM);
            signalled = true;
        }
    }
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    std::filesystem::remove_all(dir_template);
    EXPECT_TRUE(signalled) << output;
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("runneld: node id 0\n"), std::string::npos) << output;
    EXPECT_NE(output.find(std::string("runneld: data dir ") + dir_template), std::string::npos);
    EXPECT_NE(output.find("runneld: 1 shards, not pinned\n"), std::string::npos) << output;
    EXPECT_NE(output.find("runneld: idle strategy sleep"), std::string::npos) << output;
    EXPECT_NE(output.find("runneld: stopping (TERM)\n"), std::string::npos) << output;
    EXPECT_NE(output.find("runneld: stopped cleanly\n"), std::string::npos) << output;
}

} // namespace
