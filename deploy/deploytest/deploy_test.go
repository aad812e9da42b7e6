// Package deploytest checks the production deployment files in deploy/ without Docker or a
// cluster: the Kubernetes manifests' kinds, resources, probes and security settings, and that
// the ConfigMaps carry exactly the collector configurations of deploy/configs.
//
// The ConfigMaps (deploy/kubernetes/01-configmaps.yaml) are generated from deploy/configs:
//
//	go test ./deploy/deploytest -run TestConfigMapsMatchConfigs -update
package deploytest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "regenerate deploy/kubernetes/01-configmaps.yaml from deploy/configs")

const (
	namespace      = "otelcol-aiops"
	configMapsFile = "01-configmaps.yaml"
	configKey      = "config.yaml"
)

var (
	configsDir    = filepath.Join("..", "configs")
	kubernetesDir = filepath.Join("..", "kubernetes")
)

// allowedKinds is every apiVersion/kind the manifests may use.
var allowedKinds = map[string]string{
	"Namespace":               "v1",
	"ConfigMap":               "v1",
	"Secret":                  "v1",
	"Service":                 "v1",
	"DaemonSet":               "apps/v1",
	"Deployment":              "apps/v1",
	"StatefulSet":             "apps/v1",
	"HorizontalPodAutoscaler": "autoscaling/v2",
}

type doc struct {
	file string
	obj  map[string]any
}

func (d doc) kind() string { s, _ := d.obj["kind"].(string); return s }

func (d doc) name() string { return str(d.obj, "metadata", "name") }

func (d doc) String() string { return fmt.Sprintf("%s %s/%s", d.file, d.kind(), d.name()) }

// get walks nested maps; nil when a key is missing.
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string { s, _ := get(v, path...).(string); return s }

func list(v any, path ...string) []any { l, _ := get(v, path...).([]any); return l }

// loadManifests parses every document of every deploy/kubernetes/*.yaml file.
func loadManifests(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(kubernetesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/kubernetes")
	}
	var docs []doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj == nil {
				continue // empty document
			}
			docs = append(docs, doc{file: filepath.Base(f), obj: obj})
		}
	}
	return docs
}

func configFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(configsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no configs in deploy/configs")
	}
	sort.Strings(files)
	return files
}

func configMapName(file string) string {
	return "otelcol-aiops-" + strings.TrimSuffix(filepath.Base(file), ".yaml")
}

// renderConfigMaps is the generated deploy/kubernetes/01-configmaps.yaml: one ConfigMap per
// deploy/configs file, the file's bytes as a literal block.
func renderConfigMaps(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# Generated from deploy/configs by\n")
	b.WriteString("#   go test ./deploy/deploytest -run TestConfigMapsMatchConfigs -update\n")
	b.WriteString("# Edit deploy/configs/*.yaml, not this file (the test fails when they differ).\n")
	for i, f := range configFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || data[len(data)-1] != '\n' || bytes.HasSuffix(data, []byte("\n\n")) {
			t.Fatalf("%s must end with exactly one newline", f)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		component := strings.TrimSuffix(filepath.Base(f), ".yaml")
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n", configMapName(f), namespace)
		fmt.Fprintf(&b, "  labels:\n    app.kubernetes.io/name: otelcol-aiops\n    app.kubernetes.io/component: %s\n", component)
		fmt.Fprintf(&b, "data:\n  %s: |\n", configKey)
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line == "" {
				continue
			}
			if line == "\n" {
				b.WriteString(line)
				continue
			}
			b.WriteString("    " + line)
		}
	}
	return b.Bytes()
}

func TestConfigMapsMatchConfigs(t *testing.T) {
	path := filepath.Join(kubernetesDir, configMapsFile)
	want := renderConfigMaps(t)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not generated from deploy/configs; run: go test ./deploy/deploytest -run TestConfigMapsMatchConfigs -update", path)
	}

	// Independently of the rendering: every config file has a ConfigMap whose config.yaml is
	// byte-identical to it, and every ConfigMap holds one of them.
	cms := map[string]string{}
	for _, d := range loadManifests(t) {
		if d.kind() == "ConfigMap" {
			cms[d.name()] = str(d.obj, "data", configKey)
		}
	}
	for _, f := range configFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		content, ok := cms[configMapName(f)]
		if !ok {
			t.Errorf("no ConfigMap %s for %s", configMapName(f), f)
			continue
		}
		if content != string(data) {
			t.Errorf("ConfigMap %s differs from %s", configMapName(f), f)
		}
		delete(cms, configMapName(f))
	}
	for name := range cms {
		t.Errorf("ConfigMap %s has no file in deploy/configs", name)
	}
}

func TestManifestKinds(t *testing.T) {
	seen := map[string]int{}
	for _, d := range loadManifests(t) {
		want, ok := allowedKinds[d.kind()]
		if !ok {
			t.Errorf("%v: unexpected kind", d)
			continue
		}
		if api := str(d.obj, "apiVersion"); api != want {
			t.Errorf("%v: apiVersion %q, want %q", d, api, want)
		}
		if d.name() == "" {
			t.Errorf("%v: no metadata.name", d)
		}
		if d.kind() != "Namespace" && str(d.obj, "metadata", "namespace") != namespace {
			t.Errorf("%v: namespace %q, want %q", d, str(d.obj, "metadata", "namespace"), namespace)
		}
		seen[d.kind()]++
	}
	for kind := range allowedKinds {
		if seen[kind] == 0 {
			t.Errorf("no %s in deploy/kubernetes", kind)
		}
	}
}

func TestConfigMapsParse(t *testing.T) {
	for _, d := range loadManifests(t) {
		if d.kind() != "ConfigMap" {
			continue
		}
		data, _ := get(d.obj, "data").(map[string]any)
		if len(data) == 0 {
			t.Errorf("%v: no data", d)
		}
		for key, v := range data {
			s, ok := v.(string)
			if !ok {
				t.Errorf("%v: data.%s is not a string", d, key)
				continue
			}
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(s), &cfg); err != nil {
				t.Errorf("%v: data.%s: %v", d, key, err)
				continue
			}
			for _, section := range []string{"receivers", "exporters", "service"} {
				if cfg[section] == nil {
					t.Errorf("%v: data.%s has no %s section", d, key, section)
				}
			}
		}
	}
}

func TestWorkloads(t *testing.T) {
	docs := loadManifests(t)
	configMaps, secrets := map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		switch d.kind() {
		case "ConfigMap":
			configMaps[d.name()] = true
		case "Secret":
			secrets[d.name()] = true
		}
	}
	workloads := 0
	for _, d := range docs {
		switch d.kind() {
		case "DaemonSet", "Deployment", "StatefulSet":
		default:
			continue
		}
		workloads++
		pod := get(d.obj, "spec", "template", "spec")
		if pod == nil {
			t.Errorf("%v: no pod template", d)
			continue
		}
		if get(pod, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%v: pod securityContext.runAsNonRoot is not true", d)
		}
		volumes := map[string]any{}
		for _, v := range list(pod, "volumes") {
			volumes[str(v, "name")] = v
			if cm := str(v, "configMap", "name"); cm != "" && !configMaps[cm] {
				t.Errorf("%v: volume %s uses ConfigMap %s, which is not defined", d, str(v, "name"), cm)
			}
		}
		for _, c := range list(d.obj, "spec", "volumeClaimTemplates") {
			volumes[str(c, "metadata", "name")] = c
		}
		containers := list(pod, "containers")
		if len(containers) == 0 {
			t.Errorf("%v: no containers", d)
		}
		for _, c := range containers {
			name := fmt.Sprintf("%v container %s", d, str(c, "name"))
			for _, r := range []string{"requests", "limits"} {
				for _, res := range []string{"cpu", "memory"} {
					if get(c, "resources", r, res) == nil {
						t.Errorf("%s: no resources.%s.%s", name, r, res)
					}
				}
			}
			for _, p := range []string{"livenessProbe", "readinessProbe"} {
				if port := get(c, p, "httpGet", "port"); port != "health" && port != 13133 {
					t.Errorf("%s: %s is not an httpGet on the health_check port (13133), got %v", name, p, port)
				}
			}
			if get(c, "securityContext", "readOnlyRootFilesystem") != true {
				t.Errorf("%s: readOnlyRootFilesystem is not true", name)
			}
			if get(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Errorf("%s: allowPrivilegeEscalation is not false", name)
			}
			if drop := list(c, "securityContext", "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
				t.Errorf("%s: capabilities.drop is %v, want [ALL]", name, drop)
			}
			mounts := map[string]string{}
			for _, m := range list(c, "volumeMounts") {
				mounts[str(m, "mountPath")] = str(m, "name")
				if _, ok := volumes[str(m, "name")]; !ok {
					t.Errorf("%s: mount of undefined volume %s", name, str(m, "name"))
				}
			}
			for _, p := range []string{"/etc/otelcol-aiops", "/var/lib/otelcol-aiops"} {
				if mounts[p] == "" {
					t.Errorf("%s: nothing mounted at %s", name, p)
				}
			}
			for _, e := range list(c, "envFrom") {
				if s := str(e, "secretRef", "name"); s != "" && !secrets[s] {
					t.Errorf("%s: envFrom of undefined Secret %s", name, s)
				}
			}
		}
		if d.kind() == "StatefulSet" {
			if r, _ := get(d.obj, "spec", "replicas").(int); r != 1 {
				t.Errorf("%v: replicas %v, want 1", d, get(d.obj, "spec", "replicas"))
			}
			if len(list(d.obj, "spec", "volumeClaimTemplates")) == 0 {
				t.Errorf("%v: no volumeClaimTemplates", d)
			}
		}
	}
	if workloads == 0 {
		t.Fatal("no workloads")
	}
}

func TestHPATargetsADeployment(t *testing.T) {
	docs := loadManifests(t)
	deployments := map[string]bool{}
	for _, d := range docs {
		if d.kind() == "Deployment" {
			deployments[d.name()] = true
		}
	}
	for _, d := range docs {
		if d.kind() != "HorizontalPodAutoscaler" {
			continue
		}
		if k, n := str(d.obj, "spec", "scaleTargetRef", "kind"), str(d.obj, "spec", "scaleTargetRef", "name"); k != "Deployment" || !deployments[n] {
			t.Errorf("%v: scaleTargetRef %s/%s is not a Deployment of the manifests", d, k, n)
		}
		resources := map[string]bool{}
		for _, m := range list(d.obj, "spec", "metrics") {
			resources[str(m, "resource", "name")] = true
		}
		if !resources["cpu"] || !resources["memory"] {
			t.Errorf("%v: want cpu and memory metrics, got %v", d, resources)
		}
	}
}

// TestConfigsShape checks what the deployment relies on in every collector configuration:
// health_check on 0.0.0.0:13133 (kubelet probes), file_storage under /var/lib/otelcol-aiops,
// memory_limiter first in every pipeline.
func TestConfigsShape(t *testing.T) {
	for _, f := range configFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ep := str(cfg, "extensions", "health_check", "endpoint"); ep != "0.0.0.0:13133" {
			t.Errorf("%s: health_check endpoint %q, want 0.0.0.0:13133", f, ep)
		}
		if dir := str(cfg, "extensions", "file_storage", "directory"); !strings.HasPrefix(dir, "/var/lib/otelcol-aiops") {
			t.Errorf("%s: file_storage directory %q is not under /var/lib/otelcol-aiops", f, dir)
		}
		exts := map[any]bool{}
		for _, e := range list(cfg, "service", "extensions") {
			exts[e] = true
		}
		if !exts["health_check"] || !exts["file_storage"] {
			t.Errorf("%s: service::extensions %v lacks health_check or file_storage", f, list(cfg, "service", "extensions"))
		}
		pipelines, _ := get(cfg, "service", "pipelines").(map[string]any)
		if len(pipelines) == 0 {
			t.Errorf("%s: no pipelines", f)
		}
		for name, p := range pipelines {
			procs := list(p, "processors")
			if len(procs) == 0 || procs[0] != "memory_limiter" {
				t.Errorf("%s: pipeline %s does not start with memory_limiter: %v", f, name, procs)
			}
		}
	}
}
