package modules

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/order"
)

// Deps are what module constructors may use.
type Deps struct {
	// LMS is the LMS client; modules that talk to the LMS fail to
	// construct without it.
	LMS *lms.Client
	// Logger receives the modules' logs; nil means none.
	Logger *zap.Logger
}

// Constructor builds a module from its dependencies.
type Constructor func(deps Deps) (Module, error)

// constructors holds every module that can be named in a mapping. It is
// written only by Register, from the init functions of the module files, so
// adding a module is one file (which registers itself) plus one line of
// mapping configuration.
var constructors = map[string]Constructor{}

// Register makes a module constructor available under name. It is meant to
// be called from an init function and panics on a duplicate or empty name,
// which is a programming error.
func Register(name string, c Constructor) {
	if name == "" || c == nil {
		panic("modules: Register needs a name and a constructor")
	}
	if _, dup := constructors[name]; dup {
		panic("modules: module " + name + " registered twice")
	}
	constructors[name] = c
}

// Names returns the names of the registered modules, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultMapping returns the built-in product type → module mapping.
func DefaultMapping() map[string]string {
	return map[string]string{
		order.ProductSeat:        order.ProductSeat,
		order.ProductUpgrade:     order.ProductUpgrade,
		order.ProductEntitlement: order.ProductEntitlement,
		order.ProductDonation:    order.ProductDonation,
	}
}

// LoadMapping reads a product type → module mapping from a YAML (or JSON)
// file holding one flat map, for example
//
//	seat: seat
//	upgrade: upgrade
//	course-bundle-seat: seat
//
// The file replaces the built-in mapping. An empty path returns
// DefaultMapping. Unknown module names are reported with the known ones.
func LoadMapping(path string) (map[string]string, error) {
	if path == "" {
		return DefaultMapping(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modules mapping: %w", err)
	}
	var mapping map[string]string
	if err := yaml.Unmarshal(b, &mapping); err != nil {
		return nil, fmt.Errorf("modules mapping %s: expected a map of product type to module name: %w", path, err)
	}
	if err := validateMapping(mapping); err != nil {
		return nil, fmt.Errorf("modules mapping %s: %w", path, err)
	}
	return mapping, nil
}

// validateMapping checks every entry names a registered module.
func validateMapping(mapping map[string]string) error {
	if len(mapping) == 0 {
		return errors.New("maps no product types")
	}
	var errs []error
	for _, pt := range sortedKeys(mapping) {
		name := mapping[pt]
		switch {
		case strings.TrimSpace(pt) == "":
			errs = append(errs, errors.New("an empty product type"))
		case constructors[name] == nil:
			errs = append(errs, fmt.Errorf("product type %q maps to unknown module %q (known modules: %s)",
				pt, name, strings.Join(Names(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// Registry holds one module per configured module name and answers which
// module fulfills a product type. It is read-only after NewRegistry and safe
// for concurrent use.
type Registry struct {
	byType  map[string]Module
	names   map[string]string
	modules map[string]Module
}

// NewRegistry validates mapping and builds each mapped module once.
func NewRegistry(mapping map[string]string, deps Deps) (*Registry, error) {
	if err := validateMapping(mapping); err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	r := &Registry{byType: map[string]Module{}, names: map[string]string{}, modules: map[string]Module{}}
	for _, pt := range sortedKeys(mapping) {
		name := mapping[pt]
		m, ok := r.modules[name]
		if !ok {
			var err error
			if m, err = constructors[name](Deps{LMS: deps.LMS, Logger: deps.Logger.Named(name)}); err != nil {
				return nil, fmt.Errorf("modules: module %q (for product type %q): %w", name, pt, err)
			}
			r.modules[name] = m
		}
		r.byType[pt] = m
		r.names[pt] = name
	}
	return r, nil
}

// Module returns the module that fulfills productType.
func (r *Registry) Module(productType string) (Module, bool) {
	m, ok := r.byType[productType]
	return m, ok
}

// Mapped reports whether productType has a module; it fits
// order.Order.Validate.
func (r *Registry) Mapped(productType string) bool {
	_, ok := r.byType[productType]
	return ok
}

// ModuleName returns the name of the module mapped to productType.
func (r *Registry) ModuleName(productType string) (string, bool) {
	n, ok := r.names[productType]
	return n, ok
}

// ProductTypes returns the mapped product types, sorted.
func (r *Registry) ProductTypes() []string { return sortedKeys(r.names) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
