/**
 * Network namespaces as hosts for tests (root only): a switch namespace holding a bridge, and one
 * namespace per host joined to it by a veth pair, each with its own address on 10.77.0.0/24. Everything
 * is removed at teardown, even when the test fails half-way. Tests skip with `netnsSkipReason()` where
 * namespaces cannot be created (not root, no `ip`, a container without CAP_SYS_ADMIN).
 */
import { spawnSync } from 'node:child_process';

interface Teardown {
  teardown(fn: () => unknown): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/** Why namespaces cannot be used here, or false when they can. */
export function netnsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs .ci/run as root)';
  const name = `hfprobe${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.status !== 0)
    return `cannot create a network namespace: ${(r.stderr || r.error?.message || '').trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  return false;
}

export interface NetHost {
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  address: string;
  /** Its end of the link (inside `ns`). */
  dev: string;
  /** `['ip', 'netns', 'exec', ns]`: prefix a command with it to run it on this host. */
  exec: string[];
  /** Takes the host's link down (as a cable pulled) or up again. */
  link(up: boolean): void;
}

/** Hosts `names` on one switch; removed at teardown. */
export function netHosts(t: Teardown, names: string[]): Record<string, NetHost> {
  const prefix = `hf${process.pid % 100000}`;
  const sw = `${prefix}sw`;
  const created: string[] = [];
  t.teardown(() => {
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns]);
  });
  ip(['netns', 'add', sw]);
  created.push(sw);
  ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['-n', sw, 'link', 'set', 'br0', 'up']);
  const hosts: Record<string, NetHost> = {};
  names.forEach((name, i) => {
    const ns = `${prefix}${name}`;
    ip(['netns', 'add', ns]);
    created.push(ns);
    const outside = `${prefix}${i}s`;
    const dev = `${prefix}${i}h`;
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', dev]);
    ip(['link', 'set', outside, 'netns', sw]);
    ip(['link', 'set', dev, 'netns', ns]);
    ip(['-n', sw, 'link', 'set', outside, 'master', 'br0', 'up']);
    const address = `10.77.0.${i + 1}`;
    ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', dev]);
    ip(['-n', ns, 'link', 'set', dev, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    hosts[name] = {
      ns,
      address,
      dev,
      exec: ['ip', 'netns', 'exec', ns],
      link: (up) => ip(['-n', ns, 'link', 'set', dev, up ? 'up' : 'down']),
    };
  });
  return hosts;
}
