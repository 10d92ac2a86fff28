// Package envconfig holds what every environment-configured part of
// fulfillment shares: settings are read through a getenv function (os.Getenv
// outside tests; see lms.ConfigFromEnv, woocommerce.ConfigFromEnv), and each
// secret comes from NAME or from the file named by NAME_FILE, the way Docker
// and Kubernetes hand secrets to a process.
package envconfig

import (
	"fmt"
	"os"
	"strings"
)

// FileSuffix turns a secret's variable name into the name of the variable
// that names a file holding it.
const FileSuffix = "_FILE"

// Secret returns the secret name: the value of the variable name, or the
// content of the file named by name+"_FILE" without its trailing newline.
// Neither set is "" without an error. Both set is an error, so that it is
// never unclear which secret is in use; so is an empty or unreadable file.
// Errors name the variables, never the value.
func Secret(getenv func(string) string, name string) (string, error) {
	value := getenv(name)
	fileVar := name + FileSuffix
	file := strings.TrimSpace(getenv(fileVar))
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("set only one of %s and %s", name, fileVar)
	case file == "":
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The *PathError names the file, which is not secret.
		return "", fmt.Errorf("%s: %w", fileVar, err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("%s: %s is empty", fileVar, file)
	}
	return secret, nil
}
