package modules_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
)

// A module added by a test binary the way a real one is added: one
// registration, then one line of mapping.
type giftCard struct{}

func (giftCard) Fulfill(context.Context, modules.Request) modules.Result {
	return modules.Success(map[string]string{"code": "issued"})
}
func (giftCard) Revoke(context.Context, modules.Request) modules.Result { return modules.Success(nil) }

func init() {
	modules.Register("test-gift-card", func(modules.Deps) (modules.Module, error) { return giftCard{}, nil })
}

func testClient(t *testing.T) *lms.Client {
	c, err := lms.New(lms.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"})
	require.NoError(t, err)
	return c
}

func TestDefaultRegistry(t *testing.T) {
	mapping, err := modules.LoadMapping("")
	require.NoError(t, err)
	require.Equal(t, modules.DefaultMapping(), mapping)
	reg, err := modules.NewRegistry(mapping, modules.Deps{LMS: testClient(t)})
	require.NoError(t, err)
	require.Equal(t, []string{"donation", "entitlement", "seat", "upgrade"}, reg.ProductTypes())
	for _, pt := range reg.ProductTypes() {
		require.True(t, reg.Mapped(pt))
		m, ok := reg.Module(pt)
		require.True(t, ok)
		require.NotNil(t, m)
		name, ok := reg.ModuleName(pt)
		require.True(t, ok)
		require.Equal(t, pt, name)
	}
	require.False(t, reg.Mapped("course-bundle"))
	_, ok := reg.Module("course-bundle")
	require.False(t, ok)
	require.Subset(t, modules.Names(), []string{"donation", "entitlement", "seat", "upgrade"})
}

func TestLoadMappingFromFiles(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "modules.yaml")
	require.NoError(t, os.WriteFile(yamlFile, []byte("# product type: module\nseat: seat\nprofessional-seat: seat\ngift: test-gift-card\n"), 0o600))
	mapping, err := modules.LoadMapping(yamlFile)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"seat": "seat", "professional-seat": "seat", "gift": "test-gift-card"}, mapping)
	reg, err := modules.NewRegistry(mapping, modules.Deps{LMS: testClient(t)})
	require.NoError(t, err)
	a, _ := reg.Module("seat")
	b, _ := reg.Module("professional-seat")
	require.Same(t, a, b, "one module instance per module name")
	gift, ok := reg.Module("gift")
	require.True(t, ok)
	require.Equal(t, "issued", gift.Fulfill(context.Background(), modules.Request{}).Grant["code"])
	require.False(t, reg.Mapped("upgrade"), "the file replaces the built-in mapping")

	jsonFile := filepath.Join(dir, "modules.json")
	require.NoError(t, os.WriteFile(jsonFile, []byte(`{"donation": "donation"}`), 0o600))
	mapping, err = modules.LoadMapping(jsonFile)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"donation": "donation"}, mapping)
}

func TestMappingValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	_, err := modules.LoadMapping(write("unknown.yaml", "seat: seat\nbundle: bundel\n"))
	require.ErrorContains(t, err, `product type "bundle" maps to unknown module "bundel"`)
	require.ErrorContains(t, err, "known modules: donation, entitlement, seat,")
	require.ErrorContains(t, err, "unknown.yaml")

	_, err = modules.LoadMapping(write("empty.yaml", ""))
	require.ErrorContains(t, err, "maps no product types")
	_, err = modules.LoadMapping(write("list.yaml", "- seat\n- upgrade\n"))
	require.ErrorContains(t, err, "expected a map of product type to module name")
	_, err = modules.LoadMapping(write("dup.yaml", "seat: seat\nseat: upgrade\n"))
	require.Error(t, err)
	_, err = modules.LoadMapping(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)

	_, err = modules.NewRegistry(map[string]string{"seat": "nope"}, modules.Deps{})
	require.ErrorContains(t, err, `unknown module "nope"`)
	_, err = modules.NewRegistry(map[string]string{"seat": "seat"}, modules.Deps{})
	require.ErrorContains(t, err, "needs an LMS client")
	reg, err := modules.NewRegistry(map[string]string{"donation": "donation"}, modules.Deps{})
	require.NoError(t, err, "donation needs no LMS")
	require.True(t, reg.Mapped("donation"))
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	require.Panics(t, func() {
		modules.Register("seat", func(modules.Deps) (modules.Module, error) { return nil, nil })
	})
	require.Panics(t, func() { modules.Register("", nil) })
}
