/**
 * Real nats-server processes for tests: one JetStream node on a free loopback port with a temporary store
 * directory, or a 3-node cluster (three processes on loopback joined by routes, each with its own store
 * and server name). Each waits until JetStream answers, and kills its processes and removes its
 * directories at teardown. Tests skip with `natsSkipReason()` when the binary is absent (CI installs
 * Debian's `nats-server`, see .ci/run).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../bench/lib/free-port.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const CANDIDATES = [process.env.NATS_SERVER, '/usr/sbin/nats-server', '/usr/bin/nats-server'];

/** The nats-server binary, or undefined when none is installed. */
export function natsServerBinary(): string | undefined {
  for (const c of CANDIDATES) if (c && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const p = which.stdout?.trim();
  return p ? p : undefined;
}

/** Why NATS tests cannot run here, or false when they can (tap's `skip` option takes either). */
export function natsSkipReason(): string | false {
  return natsServerBinary()
    ? false
    : 'nats-server is not installed (Debian: apt-get install nats-server; .ci/run installs it)';
}

export { freePort };

export interface NatsNode {
  name: string;
  port: number;
  url: string;
  storeDir: string;
  clusterPort?: number;
  process: ChildProcess | null;
  /** The node's log so far (stdout and stderr). */
  log(): string;
  /** kill -9 (or `signal`); resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again with the same ports and store. */
  restart(): Promise<void>;
}

interface NodeSpec {
  name: string;
  port: number;
  storeDir: string;
  cluster?: { port: number; routes: number[]; name: string };
  token?: string;
}

function startProcess(spec: NodeSpec, node: { output: string[] }): ChildProcess {
  const bin = natsServerBinary();
  if (!bin) throw new Error(natsSkipReason() as string);
  const args = ['-a', '127.0.0.1', '-p', String(spec.port), '-js', '-sd', spec.storeDir];
  args.push('--server_name', spec.name);
  if (spec.token) args.push('--auth', spec.token);
  if (spec.cluster) {
    args.push('--cluster_name', spec.cluster.name, '--cluster', `nats://127.0.0.1:${spec.cluster.port}`);
    args.push('--routes', spec.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    node.output.push(d.toString());
    if (node.output.length > 400) node.output.splice(0, 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not accept connections on ${port} within ${ms} ms:\n${log()}`);
}

/** Waits until JetStream answers account info through `servers` (a cluster needs a meta leader). */
export async function waitForJetStream(servers: string[], token?: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers, ...(token ? { token } : {}), timeout: 2000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`JetStream not ready within ${ms} ms: ${String(last)}`);
}

function makeNode(spec: NodeSpec): NatsNode {
  const state = { output: [] as string[] };
  const node: NatsNode = {
    name: spec.name,
    port: spec.port,
    url: `nats://127.0.0.1:${spec.port}`,
    storeDir: spec.storeDir,
    ...(spec.cluster ? { clusterPort: spec.cluster.port } : {}),
    process: null,
    log: () => state.output.join(''),
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      const p = node.process;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill(signal);
      });
      node.process = null;
    },
    restart: async () => {
      await node.kill();
      node.process = startProcess(spec, state);
      await waitForPort(spec.port, node.process, node.log);
    },
  };
  return node;
}

export interface NatsServerOptions {
  /** Clients must present this token (`--auth`). */
  token?: string;
}

/** One JetStream node on a free loopback port; stopped and its store removed at teardown. */
export async function startNatsServer(t: Teardown, o: NatsServerOptions = {}): Promise<NatsNode> {
  const storeDir = await mkdtemp(join(tmpdir(), 'hessflow-nats-'));
  const node = makeNode({
    name: `hf-${process.pid}-${storeDir.slice(-6)}`,
    port: await freePort(),
    storeDir,
    ...(o.token ? { token: o.token } : {}),
  });
  t.teardown(async () => {
    await node.kill();
    await rm(storeDir, { recursive: true, force: true });
  });
  await node.restart();
  await waitForJetStream([node.url], o.token);
  return node;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL. */
  servers: string[];
}

/** A JetStream cluster of `size` nodes (default 3) on loopback; all stopped and removed at teardown. */
export async function startNatsCluster(t: Teardown, size = 3): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const name = `hf-${process.pid}-${Date.now().toString(36)}`;
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const storeDir = await mkdtemp(join(tmpdir(), `hessflow-nats-${i}-`));
    nodes.push(
      makeNode({
        name: `${name}-n${i}`,
        port: ports[i],
        storeDir,
        cluster: { name, port: clusterPorts[i], routes: clusterPorts.filter((_, j) => j !== i) },
      }),
    );
  }
  t.teardown(async () => {
    for (const n of nodes) {
      await n.kill();
      await rm(n.storeDir, { recursive: true, force: true });
    }
  });
  await Promise.all(nodes.map((n) => n.restart()));
  const servers = nodes.map((n) => n.url);
  await waitForJetStream(servers, undefined, 60_000);
  return { nodes, servers };
}
