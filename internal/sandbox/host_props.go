package sandbox

import (
	"context"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/tetratelabs/wazero/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The sidecar the dry run pretends to be: a pod "dry-run" in namespace
// "default", as istio-agent describes it in Envoy's node metadata.
const (
	sidecarName      = "dry-run"
	sidecarNamespace = "default"
	sidecarIP        = "10.0.0.1"
)

// nodeMetadata is what an Istio sidecar's bootstrap puts in node.metadata
// (the keys SDK-built plugins read most).
func nodeMetadata() *structpb.Struct {
	labels, _ := structpb.NewStruct(map[string]any{"app": sidecarName})
	md, _ := structpb.NewStruct(map[string]any{
		"NAME":              sidecarName,
		"NAMESPACE":         sidecarNamespace,
		"CLUSTER_ID":        "Kubernetes",
		"MESH_ID":           "cluster.local",
		"WORKLOAD_NAME":     sidecarName,
		"SERVICE_ACCOUNT":   "default",
		"INTERCEPTION_MODE": "REDIRECT",
		"INSTANCE_IPS":      sidecarIP,
		"APP_CONTAINERS":    "app",
		"ISTIO_VERSION":     "1.28.0",
		"OWNER":             "kubernetes://apis/apps/v1/namespaces/default/deployments/" + sidecarName,
	})
	md.Fields["LABELS"] = structpb.NewStructValue(labels)
	return md
}

// node is Envoy's node message for the sidecar.
func node() *corev3.Node {
	return &corev3.Node{
		Id:       "sidecar~" + sidecarIP + "~" + sidecarName + "." + sidecarNamespace + "~" + sidecarNamespace + ".svc.cluster.local",
		Cluster:  sidecarName + "." + sidecarNamespace,
		Metadata: nodeMetadata(),
	}
}

// property answers proxy_get_property for a path (segments separated by
// NUL, as SDKs send them) the way Envoy serializes values (serializeValue in
// Envoy's source/extensions/common/wasm/context.cc): strings as their bytes,
// messages in protobuf wire format. Paths it does not know are NotFound.
func (st *runState) property(path string) ([]byte, bool) {
	path = strings.TrimSuffix(path, "\x00")
	if v, found := st.props[path]; found {
		return v, true
	}
	segs := strings.Split(path, "\x00")
	switch segs[0] {
	case "plugin_name", "plugin_root_id":
		return []byte(st.in.PluginName), len(segs) == 1
	case "plugin_vm_id":
		return nil, len(segs) == 1 // Istio sets no vm_id
	case "node":
		return nodeProperty(segs[1:])
	case "request":
		return st.requestProperty(segs[1:])
	}
	return nil, false
}

// nodeProperty answers node, node.id, node.cluster, node.metadata and one
// level of node.metadata.KEY (a string or a struct).
func nodeProperty(segs []string) ([]byte, bool) {
	n := node()
	switch {
	case len(segs) == 0:
		return marshal(n)
	case len(segs) == 1 && segs[0] == "id":
		return []byte(n.Id), true
	case len(segs) == 1 && segs[0] == "cluster":
		return []byte(n.Cluster), true
	case segs[0] != "metadata":
		return nil, false
	case len(segs) == 1:
		return marshal(n.Metadata)
	}
	v := n.Metadata.Fields[segs[1]]
	switch {
	case v == nil:
		return nil, false
	case v.GetStructValue() != nil && len(segs) == 2:
		return marshal(v.GetStructValue())
	case v.GetStructValue() != nil && len(segs) == 3:
		inner := v.GetStructValue().Fields[segs[2]]
		return []byte(inner.GetStringValue()), inner != nil
	case len(segs) == 2:
		return []byte(v.GetStringValue()), true
	}
	return nil, false
}

// requestProperty answers request.path, .method, .host, .scheme and .id
// from the smoke request's headers.
func (st *runState) requestProperty(segs []string) ([]byte, bool) {
	if len(segs) != 1 || !st.streamOpen {
		return nil, false
	}
	header := map[string]string{
		"path": ":path", "method": ":method", "host": ":authority",
		"scheme": ":scheme", "id": "x-request-id",
	}[segs[0]]
	for _, kv := range st.maps[0] {
		if header != "" && kv.key == header {
			return []byte(kv.value), true
		}
	}
	return nil, false
}

func marshal(m proto.Message) ([]byte, bool) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return b, err == nil
}

// hostGetProperty is proxy_get_property(path, path_size, return_value,
// return_value_size).
func hostGetProperty(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
	path, good := view(m, u(p, 0), u(p, 1))
	if !good {
		return resultInvalidMemoryAccess
	}
	v, found := st.property(string(path))
	if !found {
		return resultNotFound
	}
	return status(st.copyOut(ctx, m, v, u(p, 2), u(p, 3)))
}

// hostSetProperty is proxy_set_property(path, path_size, value,
// value_size); a later get_property of the same path returns the value.
func hostSetProperty(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	path, good := view(m, u(p, 0), u(p, 1))
	value, good2 := read(m, u(p, 2), u(p, 3))
	if !good || !good2 {
		return resultInvalidMemoryAccess
	}
	if !st.keep(len(path) + len(value)) {
		return resultInternalFailure
	}
	if st.props == nil {
		st.props = map[string][]byte{}
	}
	st.props[strings.TrimSuffix(string(path), "\x00")] = value
	return resultOk
}
