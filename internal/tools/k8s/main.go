// Command k8s checks deploy/kubernetes/cronjob.yaml, the recipe for running a
// job under pigging as a Kubernetes CronJob, so that it cannot rot: it decodes
// every document of the file strictly into the k8s.io/api types (an unknown or
// misspelt field fails, as it would on a server with field validation), then
// checks the points the recipe is there for:
//
//   - concurrencyPolicy: Forbid;
//   - a backoffLimit, and a podFailurePolicy whose first rule matching exit
//     code 75 (the lock refused the run) is FailJob, so a refused run is not
//     retried; restartPolicy: Never, which podFailurePolicy needs;
//   - the container runs pigging run --name JOB with the PostgreSQL lock, JOB
//     the CronJob's name and PIGGING_PG_DSN from a Secret (never --pg, which
//     would show the password among the process's arguments);
//   - OTEL_RESOURCE_ATTRIBUTES carries k8s.pod.name and k8s.namespace.name
//     from the downward API and k8s.cronjob.name, the CronJob's name.
//
// It lives in its own module so that the library's go.mod never carries
// k8s.io/api. From the repository root:
//
//	go run -C internal/tools/k8s . ../../../deploy/kubernetes/cronjob.yaml
//
// It exits 0 and prints what it checked, or prints every problem and exits 1.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s path/to/cronjob.yaml")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cronJobs, err := decode(data)
	if err == nil && len(cronJobs) == 0 {
		err = errors.New("no CronJob in the file")
	}
	for _, cj := range cronJobs {
		err = errors.Join(err, check(cj))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s:\n%v\n", os.Args[1], err)
		os.Exit(1)
	}
	for _, cj := range cronJobs {
		fmt.Printf("%s: CronJob %s: strict decoding and the pigging checks passed\n", os.Args[1], cj.Name)
	}
}

// documentSep splits a YAML stream into documents.
var documentSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode decodes each document of data strictly into the type its kind
// names, and returns the CronJobs.
func decode(data []byte) ([]*batchv1.CronJob, error) {
	var cronJobs []*batchv1.CronJob
	var errs []error
	for i, doc := range documentSep.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "batch/v1 CronJob":
			cj := new(batchv1.CronJob)
			cronJobs = append(cronJobs, cj)
			obj = cj
		case "batch/v1 Job":
			obj = new(batchv1.Job)
		case "v1 Secret":
			obj = new(corev1.Secret)
		case "v1 ConfigMap":
			obj = new(corev1.ConfigMap)
		case "v1 ServiceAccount":
			obj = new(corev1.ServiceAccount)
		default:
			errs = append(errs, fmt.Errorf("document %d: apiVersion %q kind %q: not a kind this check knows", i+1, tm.APIVersion, tm.Kind))
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err))
		}
	}
	return cronJobs, errors.Join(errs...)
}

// stripComments removes comment lines, to tell an empty document.
func stripComments(doc string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// exitLocked is pigging's exit status when the lock refuses a run.
const exitLocked = 75

// check checks the points the recipe is there for.
func check(cj *batchv1.CronJob) error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("CronJob %s: "+format, append([]any{cj.Name}, a...)...))
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		fail("concurrencyPolicy is %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	js := cj.Spec.JobTemplate.Spec
	if js.BackoffLimit == nil {
		fail("jobTemplate.spec.backoffLimit is not set")
	}
	pod := js.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		fail("restartPolicy is %q, want Never (podFailurePolicy needs it)", pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 {
		fail("%d containers, want the one running pigging", len(pod.Containers))
		return errors.Join(errs...)
	}
	c := pod.Containers[0]
	if action := exitCodeAction(js.PodFailurePolicy, c.Name, exitLocked); action != batchv1.PodFailurePolicyActionFailJob {
		fail("podFailurePolicy: exit code %d (the lock refused the run) is handled by %q, want FailJob: a refused run must not be retried", exitLocked, action)
	}

	env := map[string]corev1.EnvVar{}
	// expand resolves $(VAR) as the kubelet does: from the variables
	// defined before, with a literal value; a variable from the downward
	// API or a Secret stays $(VAR).
	expand := func(s string) string {
		return varRef.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := env[ref[2:len(ref)-1]]; ok && v.ValueFrom == nil {
				return v.Value
			}
			return ref
		})
	}
	fieldOf := func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		if m == nil || m[0] != ref {
			return ""
		}
		if v, ok := env[m[1]]; ok && v.ValueFrom != nil && v.ValueFrom.FieldRef != nil {
			return v.ValueFrom.FieldRef.FieldPath
		}
		return ""
	}
	var attrs string
	for _, v := range c.Env {
		if v.Name == "OTEL_RESOURCE_ATTRIBUTES" {
			attrs = v.Value
			if v.ValueFrom != nil {
				fail("OTEL_RESOURCE_ATTRIBUTES comes from valueFrom; want a value naming the downward API variables")
			}
		}
		env[v.Name] = v
	}
	if v, ok := env["PIGGING_PG_DSN"]; !ok || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil {
		fail("PIGGING_PG_DSN does not come from a Secret (valueFrom.secretKeyRef)")
	}

	// The env is read in order for $(VAR): a variable used by another must
	// come before it.
	env = map[string]corev1.EnvVar{}
	for _, v := range c.Env {
		if v.Name == "OTEL_RESOURCE_ATTRIBUTES" {
			got := map[string]string{}
			for _, kv := range strings.Split(v.Value, ",") {
				k, val, _ := strings.Cut(kv, "=")
				got[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
			if f := fieldOf(got["k8s.pod.name"]); f != "metadata.name" {
				fail("OTEL_RESOURCE_ATTRIBUTES: k8s.pod.name=%q does not name an earlier variable from the downward API's metadata.name", got["k8s.pod.name"])
			}
			if f := fieldOf(got["k8s.namespace.name"]); f != "metadata.namespace" {
				fail("OTEL_RESOURCE_ATTRIBUTES: k8s.namespace.name=%q does not name an earlier variable from the downward API's metadata.namespace", got["k8s.namespace.name"])
			}
			if n := expand(got["k8s.cronjob.name"]); n != cj.Name {
				fail("OTEL_RESOURCE_ATTRIBUTES: k8s.cronjob.name is %q, want the CronJob's name %q", n, cj.Name)
			}
		}
		env[v.Name] = v
	}
	if attrs == "" {
		fail("no OTEL_RESOURCE_ATTRIBUTES")
	}

	argv := append(slices.Clone(c.Command), c.Args...)
	end := slices.Index(argv, "--")
	if end < 0 {
		end = len(argv)
	}
	flags := argv[:end]
	if len(flags) < 2 || !strings.HasSuffix(flags[0], "pigging") || flags[1] != "run" {
		fail("the container runs %q, want pigging run ... -- CMD", argv)
		return errors.Join(errs...)
	}
	if end == len(argv) || end == len(argv)-1 {
		fail("no CMD after -- in %q", argv)
	}
	if v, ok := flagValue(flags, "pg"); ok {
		fail("pigging run has --pg %q: the DSN holds a password, which the process's arguments show; give it as PIGGING_PG_DSN only", v)
	}
	if v, ok := flagValue(flags, "name"); !ok || expand(v) != cj.Name {
		fail("pigging run has --name %q (%q), want the CronJob's name %q", v, expand(v), cj.Name)
	}
	if v, ok := flagValue(flags, "grace"); ok {
		grace, err := time.ParseDuration(v)
		if secs, ferr := strconv.ParseFloat(v, 64); err != nil && ferr == nil {
			grace, err = time.Duration(secs*float64(time.Second)), nil // pigging takes bare seconds
		}
		period := 30 * time.Second // the kubelet's default
		if g := pod.TerminationGracePeriodSeconds; g != nil {
			period = time.Duration(*g) * time.Second
		}
		switch {
		case err != nil:
			fail("--grace %q is not a duration", v)
		case period <= grace:
			fail("terminationGracePeriodSeconds (%s) is not more than pigging's --grace %s: the kubelet would kill pigging before it records how the run ended", period, v)
		}
	}
	return errors.Join(errs...)
}

// varRef is a $(VAR) reference in a container's command, args or env.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// flagValue returns the value of --name or -name in args: the next
// argument, or what follows =.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// exitCodeAction returns the action of the first rule of p that matches
// a container's exit with code, or "Count", the default, when none does.
func exitCodeAction(p *batchv1.PodFailurePolicy, container string, code int32) batchv1.PodFailurePolicyAction {
	if p == nil {
		return batchv1.PodFailurePolicyActionCount
	}
	for _, r := range p.Rules {
		req := r.OnExitCodes
		if req == nil || (req.ContainerName != nil && *req.ContainerName != container) {
			continue
		}
		in := slices.Contains(req.Values, code)
		if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
			return r.Action
		}
	}
	return batchv1.PodFailurePolicyActionCount
}
