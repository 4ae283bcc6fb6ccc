package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// prometheusReadyTimeout bounds the wait from exec to a 200 on /-/ready;
	// generous for a loaded 2-core machine.
	prometheusReadyTimeout = 90 * time.Second
	// metricsTimeout bounds the wait for a job's samples to be queryable
	// after it exported them, and for a rule to show a new state.
	metricsTimeout = 60 * time.Second
)

// prometheusToolDir is the module that pins Prometheus, relative to the
// repository root.
const prometheusToolDir = "internal/tools/prometheus"

const prometheusPackage = "github.com/prometheus/prometheus/cmd/prometheus"

// prometheusBuildTags leave out the service discovery plugins of the
// clouds, which the tests do not use and which double the build.
const prometheusBuildTags = "remove_all_sd"

// rulesFile is the alerting rules file users load, relative to the
// repository root.
const rulesFile = "deploy/prometheus/pigging-rules.yml"

// prometheus is a running Prometheus with its OTLP receiver on and the
// rules file loaded, storing in a temporary directory.
type prometheus struct {
	Addr string // host:port of the web server: API and OTLP receiver

	*service
}

// OTLPMetricsURL is where a job sends its metrics over OTLP/HTTP.
func (p *prometheus) OTLPMetricsURL() string { return "http://" + p.Addr + "/api/v1/otlp/v1/metrics" }

// startPrometheus builds Prometheus, starts it on a free loopback port with
// the rules file evaluated every second, waits until it is ready and
// registers its stop with t.Cleanup.
func startPrometheus(t *testing.T) *prometheus {
	t.Helper()
	bin := buildTool(t, "Prometheus", prometheusToolDir, prometheusPackage, "-tags", prometheusBuildTags)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	rules := filepath.Join(repoRoot(t), rulesFile)
	conf := fmt.Sprintf("global:\n  evaluation_interval: 1s\nrule_files:\n  - %s\n", strconv.Quote(rules))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return startRetrying(t, "Prometheus", func(attempt int) (*prometheus, error) {
		return launchPrometheus(t, bin, cfg, filepath.Join(dir, fmt.Sprintf("data%d", attempt)))
	})
}

func launchPrometheus(t *testing.T, bin, cfg, data string) (*prometheus, error) {
	t.Helper()
	p := &prometheus{Addr: "127.0.0.1:" + freePorts(t, 1)[0]}
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+p.Addr,
		"--web.enable-otlp-receiver",
	)
	s, took, err := startService(t, "Prometheus", cmd, "http://"+p.Addr+"/-/ready", prometheusReadyTimeout)
	if err != nil {
		return nil, err
	}
	p.service = s
	t.Logf("Prometheus ready after %s on %s", took.Round(time.Millisecond), p.Addr)
	return p, nil
}

// apiGet GETs path?query from the HTTP API and decodes its data into v.
func (p *prometheus) apiGet(path string, query url.Values, v any) error {
	client := &http.Client{Timeout: 10 * time.Second}
	u := "http://" + p.Addr + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: HTTP %d: %w: %.400s", u, resp.StatusCode, err, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}

// promSample is one series of an instant query's result.
type promSample struct {
	Labels map[string]string
	Value  float64
}

func (s promSample) String() string { return fmt.Sprintf("%v %v", sortedMap(s.Labels), s.Value) }

// Query evaluates expr at the instant at through /api/v1/query.
func (p *prometheus) Query(expr string, at time.Time) ([]promSample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	q := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}}
	if err := p.apiGet("/api/v1/query", q, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %s, want vector", expr, data.ResultType)
	}
	out := make([]promSample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %w", expr, r.Value, err)
		}
		out = append(out, promSample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// mustQuery is Query, failing the test on error.
func (p *prometheus) mustQuery(t *testing.T, expr string, at time.Time) []promSample {
	t.Helper()
	res, err := p.Query(expr, at)
	if err != nil {
		t.Fatalf("query %s: %v\n%s", expr, err, p.tail())
	}
	return res
}

// waitQuery evaluates expr now until ok accepts the result or
// metricsTimeout passes; then it fails the test with what it last saw.
func (p *prometheus) waitQuery(t *testing.T, what, expr string, ok func([]promSample) bool) []promSample {
	t.Helper()
	deadline := time.Now().Add(metricsTimeout)
	for {
		res, err := p.Query(expr, time.Now())
		if err == nil && ok(res) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; %s gave %v (error %v)\n%s", what, metricsTimeout, expr, res, err, p.tail())
		}
		time.Sleep(pollInterval)
	}
}

// alertRule is an alerting rule as Prometheus loaded it.
type alertRule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	Type      string `json:"type"`
	Alerts    []struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	} `json:"alerts"`
}

// AlertRules returns the loaded alerting rules by name.
func (p *prometheus) AlertRules() (map[string]alertRule, error) {
	var data struct {
		Groups []struct {
			Rules []alertRule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.apiGet("/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
		return nil, err
	}
	rules := map[string]alertRule{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			rules[r.Name] = r
		}
	}
	return rules, nil
}

// firing reports whether the rule has a firing alert whose labels include
// every label in match.
func (r alertRule) firing(match map[string]string) bool {
	for _, a := range r.Alerts {
		if a.State == "firing" && hasLabels(a.Labels, match) {
			return true
		}
	}
	return false
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// only returns the samples whose labels include every label in match.
func only(res []promSample, match map[string]string) []promSample {
	var out []promSample
	for _, s := range res {
		if hasLabels(s.Labels, match) {
			out = append(out, s)
		}
	}
	return out
}

// setParam returns expr with the rule parameter old replaced by new, as a
// user edits the rules file for a job; it fails the test unless old occurs
// exactly once.
func setParam(t *testing.T, rule, expr, old, new string) string {
	t.Helper()
	if n := strings.Count(expr, old); n != 1 {
		t.Fatalf("rule %s: parameter %q occurs %d times in %s, want once", rule, old, n, expr)
	}
	return strings.Replace(expr, old, new, 1)
}

// The parameters of the rules file that the test sets, as they appear in
// the expressions Prometheus loaded.
const (
	paramJob      = `pigging_job="etl"`
	paramRunLimit = `> 4 * 3600`
)

// metricsEnv sends the job's metrics, and nothing else, to Prometheus's
// OTLP receiver under the service name service.
func metricsEnv(p *prometheus, service string) map[string]string {
	return map[string]string{
		"OTEL_SERVICE_NAME":                   service,
		"OTEL_TRACES_EXPORTER":                "none",
		"OTEL_LOGS_EXPORTER":                  "none",
		"OTEL_METRICS_EXPORTER":               "otlp",
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": p.OTLPMetricsURL(),
	}
}

// startHeldJob starts the job with -hold d in its own directory and
// returns a channel that gets its exit error.
func startHeldJob(t *testing.T, env map[string]string, d time.Duration, args ...string) <-chan error {
	t.Helper()
	bin := buildJob(t)
	cmd := exec.Command(bin, append([]string{"-hold", d.String()}, args...)...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := newTailBuffer(16 << 10)
	cmd.Stdout, cmd.Stderr = out, out
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		done <- err
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			signalGroup(cmd, syscall.SIGKILL)
			<-exited
		}
	})
	return done
}

// TestAlertsInPrometheus loads deploy/prometheus/pigging-rules.yml into a
// real Prometheus, sends it the metrics of examples/etl runs over OTLP
// (success, -fail, a refused run, a run held open) and evaluates each
// alert's expression, as Prometheus loaded it, through the query API at the
// instants that matter, the future ones included.
func TestAlertsInPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Prometheus build; runs in the full test command")
	}
	buildJob(t)
	p := startPrometheus(t)

	// The rules file loaded whole, and the rules are evaluated without
	// error.
	var rules map[string]alertRule
	wantRules := []string{"PiggingJobMissedRun", "PiggingJobNeverReported", "PiggingRunFailed", "PiggingRunTooLong", "PiggingRunRefusedAfterFailure"}
	deadline := time.Now().Add(metricsTimeout)
	for {
		var err error
		rules, err = p.AlertRules()
		healthy := err == nil
		for _, name := range wantRules {
			healthy = healthy && rules[name].Health == "ok"
		}
		if healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules of %s not all loaded and healthy within %s: %+v (error %v)\n%s", rulesFile, metricsTimeout, rules, err, p.tail())
		}
		time.Sleep(pollInterval)
	}
	if len(rules) != len(wantRules) {
		t.Errorf("%d alerting rules loaded, want %d: %v", len(rules), len(wantRules), rules)
	}
	expr := func(name string) string { return rules[name].Query }

	base := uniqueService("alerts")
	okJob, failJob, heldJob, neverJob := base+"-ok", base+"-fail", base+"-held", base+"-never"

	// A run held open past the long-run limit, exporting every 500 ms. It
	// runs meanwhile the other runs.
	const hold, limit = 60 * time.Second, 2 * time.Second
	heldEnv := metricsEnv(p, heldJob)
	heldEnv["OTEL_METRIC_EXPORT_INTERVAL"] = "500"
	heldStart := time.Now()
	heldDone := startHeldJob(t, heldEnv, hold, "-job", heldJob)
	tooLong := setParam(t, "PiggingRunTooLong", expr("PiggingRunTooLong"), paramRunLimit, "> "+strconv.Itoa(int(limit.Seconds())))
	held := map[string]string{"pigging_job": heldJob}
	fired := p.waitQuery(t, "the long-run alert for the held run", tooLong, func(res []promSample) bool { return len(only(res, held)) == 1 })
	firedAt := time.Now()
	if firedAt.After(heldStart.Add(hold)) {
		t.Fatalf("the long-run alert fired %s after the held run started, after its hold of %s: not while it ran", firedAt.Sub(heldStart), hold)
	}
	if s := only(fired, held)[0]; s.Value <= limit.Seconds() || s.Value > time.Since(heldStart).Seconds()+1 || s.Labels["job"] != heldJob || s.Labels["instance"] == "" {
		t.Errorf("long-run alert %v: want the held run's age, over %s, with job and instance", s, limit)
	}
	t.Logf("long-run alert (limit %s) fired %s after the held run started: %v", limit, firedAt.Sub(heldStart).Round(time.Millisecond), only(fired, held))
	if res := only(p.mustQuery(t, expr("PiggingRunTooLong"), time.Now()), held); len(res) != 0 {
		t.Errorf("the shipped long-run alert (4 h) fired for a run of seconds: %v", res)
	}
	if res := p.mustQuery(t, fmt.Sprintf(`pigging_run_active{pigging_job=%q}`, heldJob), time.Now()); len(res) != 1 || res[0].Value != 1 {
		t.Errorf("pigging_run_active of the held run = %v, want 1", res)
	}

	// A success, then a second one: one series across both runs, holding
	// the second's end.
	okEnv := metricsEnv(p, okJob)
	lastSuccess := fmt.Sprintf(`pigging_run_last_success_time_seconds{pigging_job=%q}`, okJob)
	if res := runJob(t, okEnv, "-job", okJob); res.ExitCode != 0 {
		t.Fatalf("success run: %s", res)
	}
	first := p.waitQuery(t, "the first success", lastSuccess, func(res []promSample) bool { return len(res) == 1 })[0]
	before := time.Now()
	if res := runJob(t, okEnv, "-job", okJob); res.ExitCode != 0 {
		t.Fatalf("second success run: %s", res)
	}
	second := p.waitQuery(t, "the second success", lastSuccess, func(res []promSample) bool {
		return len(res) == 1 && res[0].Value >= float64(before.Unix())
	})[0]
	if n := p.mustQuery(t, fmt.Sprintf(`count by (instance) ({__name__=~"pigging_run_.+", pigging_job=%q})`, okJob), time.Now()); len(n) != 1 {
		t.Errorf("two runs of one job on one host made %d instance series, want 1: %v", len(n), n)
	}
	if first.Labels["instance"] != second.Labels["instance"] || first.Labels["job"] != okJob {
		t.Errorf("series of the two runs: %v and %v, want one job=%s instance", first, second, okJob)
	}
	successAt := time.Unix(0, int64(second.Value*1e9))
	t.Logf("second success at %s: %v", successAt.UTC().Format(time.RFC3339Nano), second)

	// The names and labels Prometheus made of the metrics.
	names := p.mustQuery(t, fmt.Sprintf(`count by (__name__) ({__name__=~"pigging_.+", pigging_job=%q})`, okJob), time.Now())
	var got []string
	for _, s := range names {
		got = append(got, s.Labels["__name__"])
	}
	t.Logf("metrics of a successful run in Prometheus: %v", got)
	for _, want := range []string{
		"pigging_run_last_success_time_seconds", "pigging_run_start_time_seconds", "pigging_run_active",
		"pigging_run_duration_seconds_count", "pigging_run_duration_seconds_sum", "pigging_run_duration_seconds_bucket",
		"pigging_stage_duration_seconds_count", "pigging_stage_records_total", "pigging_stage_attempts_total",
	} {
		if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+want+" ") {
			t.Errorf("no %s in Prometheus for the successful run", want)
		}
	}

	// Missed run: quiet an hour after the success, firing 26 hours after.
	missed := setParam(t, "PiggingJobMissedRun", expr("PiggingJobMissedRun"), paramJob, fmt.Sprintf("pigging_job=%q", okJob))
	if res := p.mustQuery(t, missed, successAt.Add(time.Hour)); len(res) != 0 {
		t.Errorf("missed-run alert an hour after a success: %v, want nothing", res)
	}
	res := p.mustQuery(t, missed, successAt.Add(26*time.Hour))
	if len(res) != 1 || res[0].Labels["pigging_job"] != okJob || res[0].Value < 26*3600-1 || res[0].Value > 26*3600+60 {
		t.Errorf("missed-run alert 26 hours after a success: %v, want one series for %s aged 26 h", res, okJob)
	}
	t.Logf("missed-run alert: +1h nothing, +26h %v", res)

	// Never reported: fires for a job with no series, not for one that
	// succeeded, now or 26 hours later.
	never := expr("PiggingJobNeverReported")
	res = p.mustQuery(t, setParam(t, "PiggingJobNeverReported", never, paramJob, fmt.Sprintf("pigging_job=%q", neverJob)), time.Now())
	if len(res) != 1 || res[0].Labels["pigging_job"] != neverJob {
		t.Errorf("never-reported alert for a job with no series: %v, want one for %s", res, neverJob)
	}
	t.Logf("never-reported alert for %s: %v", neverJob, res)
	okNever := setParam(t, "PiggingJobNeverReported", never, paramJob, fmt.Sprintf("pigging_job=%q", okJob))
	for _, at := range []time.Time{time.Now(), successAt.Add(26 * time.Hour)} {
		if res := p.mustQuery(t, okNever, at); len(res) != 0 {
			t.Errorf("never-reported alert at %s for a job that succeeded: %v", at, res)
		}
	}

	// Failed run: not after the successes; after -fail. Then the next run
	// is refused because the failed run kept its lock.
	ok := map[string]string{"pigging_job": okJob}
	if res := only(p.mustQuery(t, expr("PiggingRunFailed"), time.Now()), ok); len(res) != 0 {
		t.Errorf("failed-run alert after successes: %v", res)
	}
	failEnv := metricsEnv(p, failJob)
	state := t.TempDir()
	stateArgs := []string{"-job", failJob, "-lock", filepath.Join(state, "etl.lock"), "-log", filepath.Join(state, "etl.log")}
	if res := runJob(t, failEnv, append(stateArgs, "-fail")...); res.ExitCode != 1 {
		t.Fatalf("-fail run: %s", res)
	}
	failed := map[string]string{"pigging_job": failJob}
	res = p.waitQuery(t, "the failed-run alert after -fail", expr("PiggingRunFailed"), func(res []promSample) bool { return len(only(res, failed)) == 1 })
	if s := only(res, failed)[0]; s.Labels["job"] != failJob || s.Labels["error_type"] == "" {
		t.Errorf("failed-run alert %v: want job %s and an error_type", s, failJob)
	}
	t.Logf("failed-run alert after -fail: %v", only(res, failed))
	if res := only(p.mustQuery(t, expr("PiggingRunFailed"), time.Now()), ok); len(res) != 0 {
		t.Errorf("failed-run alert for the job that succeeded: %v", res)
	}
	if res := p.mustQuery(t, setParam(t, "PiggingJobMissedRun", expr("PiggingJobMissedRun"), paramJob, fmt.Sprintf("pigging_job=%q", failJob)), time.Now().Add(26*time.Hour)); len(res) != 0 {
		t.Errorf("missed-run alert for a job that never succeeded: %v, want nothing (the never-reported alert's case)", res)
	}
	if res := runJob(t, failEnv, stateArgs...); res.ExitCode != 1 {
		t.Fatalf("run after -fail was not refused: %s", res)
	}
	res = p.waitQuery(t, "the refused-after-failure alert", expr("PiggingRunRefusedAfterFailure"), func(res []promSample) bool { return len(only(res, failed)) == 1 })
	t.Logf("refused-after-failure alert: %v", only(res, failed))
	if res := only(p.mustQuery(t, expr("PiggingRunRefusedAfterFailure"), time.Now()), ok); len(res) != 0 {
		t.Errorf("refused-after-failure alert for the job that succeeded: %v", res)
	}
	if res := p.mustQuery(t, fmt.Sprintf(`pigging_run_duration_seconds_count{pigging_job=%q}`, failJob), time.Now()); len(res) != 1 || res[0].Labels["pigging_run_result"] != "failure" {
		t.Errorf("run duration series of the failed job: %v, want the failure alone (a refused start is not a run)", res)
	}

	// Prometheus's own evaluation of the rules, every second: the failed
	// run's alert fires, and the shipped never-reported rule fires for the
	// job it names, etl, which nothing here runs.
	deadline = time.Now().Add(metricsTimeout)
	for {
		rules, err := p.AlertRules()
		if err == nil && rules["PiggingRunFailed"].firing(failed) &&
			rules["PiggingRunRefusedAfterFailure"].firing(failed) &&
			rules["PiggingJobNeverReported"].firing(map[string]string{"pigging_job": "etl"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus's rule evaluation did not fire the alerts within %s: %+v (error %v)", metricsTimeout, rules, err)
		}
		time.Sleep(pollInterval)
	}

	// The held run ends: active back to 0, and the long-run alert quiet.
	select {
	case err := <-heldDone:
		if err != nil {
			t.Fatalf("held run: %v", err)
		}
	case <-time.After(hold + jobTimeout):
		t.Fatalf("held run still going %s after its hold", jobTimeout)
	}
	p.waitQuery(t, "the long-run alert quiet after the held run ended", tooLong, func(res []promSample) bool { return len(only(res, held)) == 0 })
	if res := p.mustQuery(t, fmt.Sprintf(`pigging_run_active{pigging_job=%q}`, heldJob), time.Now()); len(res) != 1 || res[0].Value != 0 {
		t.Errorf("pigging_run_active after the held run = %v, want 0", res)
	}
}
