package main

import "fmt"

// checkHostsFlags checks --hosts, --hostfile, --map-by and --oversubscribe.
func checkHostsFlags(cfg config, set map[string]bool) error {
	if cfg.hosts.list != "" && cfg.hosts.file != "" {
		return fmt.Errorf("%w: give --hosts or --hostfile, not both", errUsage)
	}
	if cfg.hosts.mapBy != mapBySlot && cfg.hosts.mapBy != mapByNode {
		return fmt.Errorf("%w: --map-by %q: want slot or node", errUsage, cfg.hosts.mapBy)
	}
	if !cfg.hosts.enabled() {
		for _, name := range []string{"map-by", "oversubscribe"} {
			if set[name] {
				return fmt.Errorf("%w: --%s needs --hosts or --hostfile", errUsage, name)
			}
		}
		return nil
	}
	if cfg.nats.URL == "" {
		return fmt.Errorf("%w: --hosts and --hostfile need --nats URL (or NATS_URL), the server the agents joined", errUsage)
	}
	if cfg.hosts.list != "" {
		if cfg.hosts.list == "auto" {
			return nil
		}
		if _, err := parseHostList(cfg.hosts.list); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return nil
}
