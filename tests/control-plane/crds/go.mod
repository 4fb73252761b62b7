// Pins the operator modules whose CustomResourceDefinitions the cluster tests
// install (scripts/control-plane.sh reads the "crds:" lines: module, then the
// folder of the module that holds its CRD YAML). No Go code imports them, so
// `go mod tidy` must not be run here.
module palgen.test/controlplane/crds

go 1.26.0

// crds: github.com/cloudnative-pg/cloudnative-pg@v1.30.0 config/crd/bases
// crds: github.com/cloudnative-pg/plugin-barman-cloud@v0.14.0 config/crd/bases
// crds: github.com/cert-manager/cert-manager@v1.19.4 deploy/crds
// crds: github.com/prometheus-operator/prometheus-operator@v0.85.0 example/prometheus-operator-crd

require (
	github.com/cert-manager/cert-manager v1.19.4
	github.com/cloudnative-pg/cloudnative-pg v1.30.0
	github.com/cloudnative-pg/plugin-barman-cloud v0.14.0
	github.com/prometheus-operator/prometheus-operator v0.85.0
)
