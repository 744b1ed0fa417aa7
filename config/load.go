package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Load returns the configuration of one gateway process:
//
//  1. the defaults (see Default and the field comments);
//  2. overridden by the YAML file at path, unless path is "". An unknown
//     key, a value of the wrong type and a key written twice are errors;
//     a setting left out or set to null keeps its default;
//  3. overridden by the GATEWAY_<SETTING> variables in env, "NAME=value"
//     entries as os.Environ returns them (tests pass their own). SETTING is
//     the setting's path upper-cased with dots as underscores, such as
//     GATEWAY_STORE_DIAL_TIMEOUT; lists are comma-separated. Every scalar
//     setting has one; upstreams and routes have none. GATEWAY_OPERATOR_TOKEN
//     is ignored, and so is GATEWAY_UPSTREAMS_<NAME>_TOKEN once step 4 is done if
//     it names an upstream (UpstreamTokenEnv); any other unknown GATEWAY_
//     variable is an error;
//  4. completed: with no upstreams, Sandbox is set and Upstreams holds
//     "voice" and "sms" with empty URLs and default limits; with no routes,
//     DefaultRoutes; methods are upper-cased and missing route names derived;
//  5. validated (see Validate).
//
// Every error names the setting (or variable) and why, and where the value
// came from when that is known.
func Load(path string, env []string) (Config, error) {
	c := base()
	where := make(map[string]string) // setting path → "file:line" or variable
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading the configuration file: %w", err)
		}
		if err := decodeYAML(data, path, &c, where); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&c, env, where); err != nil {
		return Config{}, err
	}
	if err := c.complete(); err != nil {
		return Config{}, err
	}
	if err := checkUpstreamTokenEnv(&c, env); err != nil {
		return Config{}, err
	}
	if problems := c.problems(); len(problems) > 0 {
		for _, p := range problems {
			p.Source = sourceOf(where, p.Setting)
		}
		return Config{}, joinErrors(problems)
	}
	return c, nil
}

// sourceOf returns where setting, or the nearest setting that holds it,
// came from: "routes[2].price" falls back to "routes[2]" and "routes".
func sourceOf(where map[string]string, setting string) string {
	for setting != "" {
		if src, ok := where[setting]; ok {
			return src
		}
		i := strings.LastIndexAny(setting, ".[")
		if i < 0 {
			break
		}
		setting = setting[:i]
	}
	return ""
}

// joinErrors returns nil for no problems, the problem itself for one, and
// errors.Join of them for several.
func joinErrors(problems []*Error) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return problems[0]
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}
