// Reads schedules, one pair per line: the five-field schedule of a
// Kubernetes CronJob, a tab, and the schedule palgen writes into a
// CloudNativePG ScheduledBackup. For each line it prints "ok" and the next
// activations of both, or what is wrong:
//
//   - the CronJob side is parsed as Kubernetes does (robfig/cron v3's
//     standard parser);
//   - the ScheduledBackup side as CloudNativePG 1.30 does, in its webhook and
//     its controller: robfig/cron v1's Parse, with the webhook's warning
//     when the schedule is not six fields;
//   - both must fire at the same instants, from a fixed start.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	cronv1 "github.com/robfig/cron"
	cronv3 "github.com/robfig/cron/v3"
)

// Activations compared per schedule.
const activations = 8

func main() {
	start := time.Date(2026, time.January, 1, 0, 0, 30, 0, time.UTC)
	input := bufio.NewScanner(os.Stdin)
	failed := false
	for input.Scan() {
		kubernetes, cnpg, found := strings.Cut(input.Text(), "\t")
		if !found {
			fmt.Printf("bad input line %q\n", input.Text())
			failed = true
			continue
		}
		if problem := compare(kubernetes, cnpg, start); problem != "" {
			fmt.Printf("%s\t%s\tFAIL %s\n", kubernetes, cnpg, problem)
			failed = true
		} else {
			fmt.Printf("%s\t%s\tok\n", kubernetes, cnpg)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func compare(kubernetes, cnpg string, start time.Time) string {
	cronJob, err := cronv3.ParseStandard(kubernetes)
	if err != nil {
		return "Kubernetes refuses the CronJob schedule: " + err.Error()
	}
	backup, err := cronv1.Parse(cnpg)
	if err != nil {
		return "CloudNativePG refuses the ScheduledBackup schedule: " + err.Error()
	}
	if len(strings.Fields(cnpg)) != 6 {
		return "CloudNativePG warns: Schedule parameter may not have the right number of arguments (usually six arguments are needed)"
	}
	a, b := start, start
	for i := 0; i < activations; i++ {
		a, b = cronJob.Next(a), backup.Next(b)
		if !a.Equal(b) {
			return fmt.Sprintf("activation %d differs: CronJob %s, ScheduledBackup %s", i+1, a, b)
		}
	}
	return ""
}
