# wasmext Makefile (kubebuilder v4 layout). `make help` lists the targets.
#
# Every tool is built from its Go module into bin/ and version-stamped (bin/<tool>-<version>, with
# bin/<tool> a symlink), so bumping a version below rebuilds it. Nothing is downloaded except Go
# modules: envtest's kube-apiserver and etcd are built from source by hack/envtest-bins.sh
# when setup-envtest cannot download them.

# ---- tool versions ---------------------------------------------------------------------------------
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION    ?= v2.15.0
# The CNCF distribution registry for the demo and e2e; pinned by hack/tools/registry/go.mod.
REGISTRY_VERSION         ?= $(shell awk '$$1 == "require" { $$1 = "" ; $$0 = $$0 } $$1 == "github.com/distribution/distribution/v3" { print $$2; exit }' hack/tools/registry/go.mod)
# helm for the chart tests and the kind e2e; pinned by hack/tools/helm/go.mod.
HELM_VERSION             ?= $(shell awk '$$1 == "require" { $$1 = "" ; $$0 = $$0 } $$1 == "helm.sh/helm/v3" { print $$2; exit }' hack/tools/helm/go.mod)
# kube-apiserver and etcd versions are pinned by hack/tools/kube-apiserver and hack/tools/etcd.
# Flux source-controller, the peer of `make bench-flux`; pinned by hack/tools/flux/go.mod.
SOURCE_CONTROLLER_VERSION ?= $(shell awk '$$1 == "require" { $$1 = "" ; $$0 = $$0 } $$1 == "github.com/fluxcd/source-controller" { print $$2; exit }' hack/tools/flux/go.mod)

# ---- settings --------------------------------------------------------------------------------------
IMG ?= controller:latest
CONTAINER_TOOL ?= docker
# The image's final stage (Dockerfile); `scratch` where no image can be pulled.
BASE_IMAGE ?= gcr.io/distroless/static:nonroot
# The architecture of the image's binary, and the CA bundle copied into it (Debian ca-certificates).
IMAGE_ARCH ?= $(shell go env GOARCH)
CA_BUNDLE  ?= /etc/ssl/certs/ca-certificates.crt
# Extra `go test` flags, e.g. `make test TEST_FLAGS=-race` (needs cgo/gcc; roughly doubles the time).
TEST_FLAGS ?=
# `make demo KEEP=1` leaves the demo's control plane and registry running.
KEEP ?=
# More flags for the demo and the benchmark, e.g. `make bench BENCH_ARGS="-n 1,100 -steady 0"`.
DEMO_ARGS ?=
BENCH_ARGS ?=

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT  ?= $(LOCALBIN)/golangci-lint
REGISTRY       ?= $(LOCALBIN)/registry
HELM           ?= $(LOCALBIN)/helm
SOURCE_CONTROLLER ?= $(LOCALBIN)/source-controller

# The Helm chart; its crds/ and files/ are copies made by `make manifests` (chart-crds, chart-rbac).
CHART = charts/wasmext

# Paths written by `make manifests generate`; `make verify` fails when they differ from git.
GENERATED_PATHS = config/crd/bases config/rbac/role.yaml ':(glob)api/**/zz_generated.*.go' \
	$(CHART)/crds $(CHART)/files

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs (config/crd/bases), the manager ClusterRole (config/rbac/role.yaml) and their copies in the chart.
	"$(CONTROLLER_GEN)" crd rbac:roleName=wasmext-manager-role webhook paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-crds chart-rbac

.PHONY: chart-crds
chart-crds: ## Copy the CRDs (config/crd/bases) into the chart (charts/wasmext/crds).
	rm -f $(CHART)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART)/crds/

.PHONY: chart-rbac
chart-rbac: ## Copy the generated manager ClusterRole and the leader-election Role into the chart's files/.
	cp config/rbac/role.yaml $(CHART)/files/manager-role.yaml
	cp config/rbac/leader_election_role.yaml $(CHART)/files/leader-election-role.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods (api/**/zz_generated.deepcopy.go).
	"$(CONTROLLER_GEN)" object paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (config: .golangci.yml).
	"$(GOLANGCI_LINT)" run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply its fixes.
	"$(GOLANGCI_LINT)" run --fix

.PHONY: envtest
envtest: ## Provide kube-apiserver and etcd for envtest in bin/k8s (built from Go modules if needed; ~10 min cold).
	@hack/envtest-bins.sh >/dev/null

.PHONY: test
test: manifests generate envtest registry helm ## Run all tests against a real kube-apiserver + etcd (and the CNCF registry process, helm); coverage in cover.out.
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" WASMEXT_REGISTRY_BIN="$(REGISTRY)" HELM_BIN="$(HELM)" go test ./... -count=1 $(TEST_FLAGS) -coverprofile cover.out

.PHONY: verify
verify: manifests generate fmt ## Fail when generated or formatted files differ from what is committed.
	@dirty="$$(git status --porcelain --untracked-files=all -- $(GENERATED_PATHS) $$(git ls-files '*.go'))"; \
	if [ -n "$$dirty" ]; then \
		echo "Generated or formatted files are stale; run 'make manifests generate fmt' and commit:"; \
		echo "$$dirty"; git --no-pager diff --stat -- $(GENERATED_PATHS); exit 1; \
	fi; echo "verify: generated files are up to date"

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary (bin/manager).
	go build -o bin/manager .

.PHONY: run
run: manifests generate fmt vet ## Run the controller from your host against the cluster in ~/.kube/config.
	go run .

.PHONY: docker-build
docker-build: ## Build the manager image (IMG=controller:latest; BASE_IMAGE=scratch where nothing can be pulled).
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) go build -trimpath -ldflags="-s -w" -o bin/manager-linux-$(IMAGE_ARCH) .
	@[ -r "$(CA_BUNDLE)" ] || { echo "$(CA_BUNDLE) not found: install the ca-certificates package or set CA_BUNDLE"; exit 1; }
	cp "$(CA_BUNDLE)" bin/ca-certificates.crt
	$(CONTAINER_TOOL) build --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BINARY=bin/manager-linux-$(IMAGE_ARCH) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: registry
registry: $(REGISTRY) ## Build the CNCF distribution registry (bin/registry) for the demo and e2e.

.PHONY: helm
helm: $(HELM) ## Build helm (bin/helm) for the chart tests and the kind e2e (a few minutes the first time).

.PHONY: demo
demo: envtest registry ## Run the end-to-end demo on envtest + a local registry (KEEP=1 leaves it running).
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" WASMEXT_REGISTRY_BIN="$(REGISTRY)" \
		go run ./test/demo $(if $(filter 1 true yes,$(KEEP)),-keep) $(DEMO_ARGS)

.PHONY: bench
bench: envtest ## Run the benchmark (test/bench; BENCH_ARGS=... for its flags), then the module server's throughput and memory, the dry run's cost (internal/sandbox) and the bytes the cache keeps per object (controllers).
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" go run ./test/bench $(BENCH_ARGS)
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" go run ./test/bench/manymodules
	go test ./internal/cache/ -run '^$$' -bench 'Throughput|Held1GiB' -benchtime=5x
	go test ./internal/sandbox/ -run '^$$' -bench 'DryRun' -benchtime=5x
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" go test ./controllers/ -run '^$$' -bench 'CachedObject' -benchtime=3x

.PHONY: bench-flux
bench-flux: envtest $(SOURCE_CONTROLLER) ## Run wasmext, Flux source-controller (at --concurrent 2 and at wasmext's) and the floor side by side, N = 1, 100, 1000 over 50 modules and 500 over 20, 3 rounds each; writes docs/benchmarks.md (BENCH_ARGS=... for more flags, e.g. "-n 1,20 -rounds 1").
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" go run ./test/bench -peer flux -flux-bin "$(patsubst $(CURDIR)/%,%,$(SOURCE_CONTROLLER))" \
		-n 1,100,1000,500/20 -modules 50 -rounds 3 -verify=false -steady 5s -docs docs/benchmarks.md $(BENCH_ARGS)

FUZZTIME ?= 10m
.PHONY: fuzz
fuzz: ## Run every fuzz target in turn for FUZZTIME each (default 10m); plain 'make test' replays the committed corpora.
	hack/fuzz.sh $(FUZZTIME)

.PHONY: test-e2e
test-e2e: ## Run the kind end-to-end test: the Dockerfile's image, the Helm chart, the core scenarios (hack/e2e-kind.sh; KEEP=1 leaves the cluster).
	KEEP="$(KEEP)" hack/e2e-kind.sh

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in ~/.kube/config.
	kubectl apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: ## Uninstall the CRDs.
	kubectl delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the controller (config/default) with IMG.
	kubectl kustomize config/default | sed 's|image: controller:latest|image: $(IMG)|' | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Undeploy the controller.
	kubectl kustomize config/default | kubectl delete --ignore-not-found -f -

##@ Tools

.PHONY: tools
tools: controller-gen golangci-lint ## Build the code generators and linters into bin/.

$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

.PHONY: controller-gen
controller-gen: $(LOCALBIN) ## Build controller-gen into bin/.
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(LOCALBIN) ## Build golangci-lint into bin/ (a few minutes the first time).
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# The registry is built inside its tools module, so its go.sum is checked in here.
$(REGISTRY): hack/tools/registry/go.mod hack/tools/registry/go.sum | $(LOCALBIN)
	@[ -n "$(REGISTRY_VERSION)" ] || { echo "cannot read the registry version from hack/tools/registry/go.mod"; exit 1; }
	@if [ ! -x "$(REGISTRY)-$(REGISTRY_VERSION)" ]; then \
		echo "Building registry $(REGISTRY_VERSION)"; \
		cd hack/tools/registry && CGO_ENABLED=0 go build -o "$(REGISTRY)-$(REGISTRY_VERSION).tmp" github.com/distribution/distribution/v3/cmd/registry; \
		mv "$(REGISTRY)-$(REGISTRY_VERSION).tmp" "$(REGISTRY)-$(REGISTRY_VERSION)"; \
	fi
	ln -sfn "$(notdir $(REGISTRY))-$(REGISTRY_VERSION)" "$(REGISTRY)"
	touch -h "$(REGISTRY)"

# helm is built inside its tools module like the registry; the ldflags stamp its version and the
# Kubernetes version `helm template` and `helm lint` assume (the client-go minor it was built with),
# as helm's own Makefile does.
HELM_LDFLAGS = -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	$(foreach p,pkg/lint/rules pkg/chartutil,-X helm.sh/helm/v3/$(p).k8sVersionMajor=$$major -X helm.sh/helm/v3/$(p).k8sVersionMinor=$$minor)
$(HELM): hack/tools/helm/go.mod hack/tools/helm/go.sum | $(LOCALBIN)
	@[ -n "$(HELM_VERSION)" ] || { echo "cannot read the helm version from hack/tools/helm/go.mod"; exit 1; }
	@if [ ! -x "$(HELM)-$(HELM_VERSION)" ]; then \
		echo "Building helm $(HELM_VERSION)"; \
		cd hack/tools/helm; \
		kv="$$(go list -m -f '{{.Version}}' k8s.io/client-go)"; kv="$${kv#v0.}"; major=1; minor="$${kv%%.*}"; \
		CGO_ENABLED=0 go build -ldflags "$(HELM_LDFLAGS)" -o "$(HELM)-$(HELM_VERSION).tmp" helm.sh/helm/v3/cmd/helm; \
		mv "$(HELM)-$(HELM_VERSION).tmp" "$(HELM)-$(HELM_VERSION)"; \
	fi
	ln -sfn "$(notdir $(HELM))-$(HELM_VERSION)" "$(HELM)"
	touch -h "$(HELM)"

# source-controller is built inside its tools module, which needs Go 1.27 (GOTOOLCHAIN, taken from the Go
# module proxy; the rest of the repository stays on its own Go). Built only when the versioned binary is missing.
$(SOURCE_CONTROLLER): hack/tools/flux/go.mod hack/tools/flux/go.sum | $(LOCALBIN)
	@[ -n "$(SOURCE_CONTROLLER_VERSION)" ] || { echo "cannot read the source-controller version from hack/tools/flux/go.mod"; exit 1; }
	@if [ ! -x "$(SOURCE_CONTROLLER)-$(SOURCE_CONTROLLER_VERSION)" ]; then \
		echo "Building source-controller $(SOURCE_CONTROLLER_VERSION) (Go 1.27; several minutes the first time)"; \
		cd hack/tools/flux && GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0 go build -o "$(SOURCE_CONTROLLER)-$(SOURCE_CONTROLLER_VERSION).tmp" github.com/fluxcd/source-controller; \
		mv "$(SOURCE_CONTROLLER)-$(SOURCE_CONTROLLER_VERSION).tmp" "$(SOURCE_CONTROLLER)-$(SOURCE_CONTROLLER_VERSION)"; \
	fi
	ln -sfn "$(notdir $(SOURCE_CONTROLLER))-$(SOURCE_CONTROLLER_VERSION)" "$(SOURCE_CONTROLLER)"
	touch -h "$(SOURCE_CONTROLLER)"

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(basename "$(1)")-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Building $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
ln -sf "$$(basename "$(1)")-$(3)" "$(1)" ;\
}
endef
