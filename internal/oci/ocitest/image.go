package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
)

// File is one entry in a tar layer: a regular file unless Type says
// otherwise (tar.TypeDir, tar.TypeSymlink, tar.TypeLink with Link).
type File struct {
	Name string
	Data []byte
	Type byte   // tar type flag; tar.TypeReg when 0
	Link string // link target of a symlink or hard link
}

// TarLayer returns a tar archive of files, gzipped when gz is set. The
// output is deterministic.
func TarLayer(gz bool, files ...File) ([]byte, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)), Typeflag: f.Type, Linkname: f.Link}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data[:hdr.Size]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if !gz {
		return tarBuf.Bytes(), nil
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// image builds a two-layer container image: a base layer with /etc/os-release,
// then a layer with files.
func image(f oci.Format, gz bool, files ...File) (Manifest, error) {
	return ImageManifest(f, gz,
		[]File{{Name: "etc/os-release", Data: []byte("ID=scratch\n")}},
		files,
	)
}

// ImageManifest builds a Docker (oci.FormatDockerImage) or OCI
// (oci.FormatOCIImage) image manifest with one tar layer per element of
// layers, gzipped when gz is set, and a config whose diff_ids match.
func ImageManifest(f oci.Format, gz bool, layers ...[]File) (Manifest, error) {
	mediaType, configType := ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig
	layerType := ocispec.MediaTypeImageLayer
	switch {
	case f == oci.FormatDockerImage && gz:
		mediaType, configType, layerType = oci.MediaTypeDockerManifest, oci.MediaTypeDockerConfig, oci.MediaTypeDockerLayerGzip
	case f == oci.FormatDockerImage:
		mediaType, configType, layerType = oci.MediaTypeDockerManifest, oci.MediaTypeDockerConfig, oci.MediaTypeDockerLayer
	case f == oci.FormatOCIImage && gz:
		layerType = ocispec.MediaTypeImageLayerGzip
	case f != oci.FormatOCIImage:
		return Manifest{}, fmt.Errorf("ocitest: %q is not an image format", f)
	}
	m := Manifest{MediaType: mediaType}
	var diffIDs []digest.Digest
	for _, files := range layers {
		plain, err := TarLayer(false, files...)
		if err != nil {
			return Manifest{}, err
		}
		diffIDs = append(diffIDs, digest.FromBytes(plain))
		data := plain
		if gz {
			if data, err = TarLayer(true, files...); err != nil {
				return Manifest{}, err
			}
		}
		m.Layers = append(m.Layers, Blob{MediaType: layerType, Data: data})
	}
	conf, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		return Manifest{}, err
	}
	m.Config = Blob{MediaType: configType, Data: conf}
	return m, nil
}
