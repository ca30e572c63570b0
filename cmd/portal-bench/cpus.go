package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// -pin runs the servers and the load on separate CPUs: the servers (the
// portal, nginx and the Go baselines) on the first half of the CPUs this
// process may use, the load (wrk, and this process: the phones and the
// search client) on the rest. It is off by default, since issue 8's
// targets were set against servers sharing the machine with their load,
// but it tells how much of a p99 is the server's own: on 2 cores, a Go
// server and the load generator compete for both, and the kernel's time
// slices set much of the tail. Pinned, every server's page p99 was 2–6 ms
// (19:25 UTC on 6 December); nginx, with a core to itself, then served the
// big pages with sendfile 2–3 times as fast as either Go server.

// pinnedEnv carries the servers' CPUs into the bench once it runs on the
// load's CPUs.
const pinnedEnv = "PORTAL_BENCH_SERVER_CPUS"

// pinLoad re-runs the bench on the load's CPUs, with the servers' CPUs in
// the environment. It returns only if there is nothing to pin (a single
// CPU) or the bench runs pinned already; then serverCPUs is the servers'
// list, or "" when they share the CPUs with the load.
func pinLoad(args []string) (serverCPUs string, err error) {
	if cpus, ok := os.LookupEnv(pinnedEnv); ok {
		return cpus, nil
	}
	allowed, err := allowedCPUs()
	if err != nil {
		return "", err
	}
	if len(allowed) < 2 {
		fmt.Println("one CPU: the servers and the load share it")
		return "", nil
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return "", fmt.Errorf("the bench pins the servers and the load to separate CPUs with taskset (Debian's util-linux), not found: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	half := len(allowed) / 2
	servers, load := cpuList(allowed[:half]), cpuList(allowed[half:])
	fmt.Printf("servers on CPU %s, load on CPU %s\n", servers, load)
	argv := append([]string{"taskset", "-c", load, self}, args...)
	return "", syscall.Exec(taskset, argv, append(os.Environ(), pinnedEnv+"="+servers))
}

// allowedCPUs lists the CPUs this process may run on, from
// /proc/self/status ("Cpus_allowed_list:\t0-3,6").
func allowedCPUs() ([]int, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		list, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		return parseCPUList(strings.TrimSpace(list))
	}
	return nil, fmt.Errorf("no Cpus_allowed_list in /proc/self/status")
}

// parseCPUList reads the kernel's CPU list format: "0-3,6".
func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: bad range %q", list, part)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// cpuList writes CPUs as taskset -c takes them.
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinnedCommand is the command that runs bin on cpus ("" for any).
func pinnedCommand(cpus, bin string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
}
