/** `graph`: the machine as a picture (DOT or Mermaid); the picture itself is graph-model.ts. */
import { defineCommand } from '../../command.js';
import { explainStatus } from '../inspect/status.js';
import { explainGroups } from '../inspect/groups.js';
import { GRAPH_FORMATS, parseOnly, renderGraph, type GraphFormat, type GraphOnly } from './graph-model.js';

export interface GraphOptions {
  format: GraphFormat;
  only: readonly string[] | undefined;
}

export interface GraphData {
  format: GraphFormat;
  graph: string;
}

export default defineCommand({
  name: 'graph',
  group: 'teach',
  summary: 'the machine as a picture: devices in IOMMU groups, drivers, owners (DOT or Mermaid)',
  example: 'vfioctl graph | dot -Tsvg > machine.svg\nvfioctl graph --format mermaid > machine.mmd\nvfioctl graph --only vfio | dot -Tsvg > vfio.svg\nvfioctl graph --only group 2',
  flags: [
    { flags: '--format <format>', description: 'output language', choices: GRAPH_FORMATS, default: 'dot' },
    {
      flags: '--only <what...>',
      description: 'draw only: vfio (the groups and devices VFIO is involved with), groups (devices in IOMMU groups), group N',
      complete: { words: ['vfio', 'groups', 'group'] },
    },
  ],
  machine: 'read',
  options(p): GraphOptions {
    const only = Array.isArray(p.flags['only']) ? (p.flags['only'] as string[]) : undefined;
    parseOnly(only); // the words' usage errors, before the machine is read
    return { format: p.flags['format'] === 'mermaid' ? 'mermaid' : 'dot', only };
  },
  run(_rc, o: GraphOptions, { m, sys }): GraphData {
    // a real system has no picture, but the same facts are read from the same files
    explainStatus(sys, m);
    explainGroups(sys, m);
    // `--only group N`: now that there is a machine, N must be one of its groups
    const only: GraphOnly = parseOnly(o.only, m);
    return { format: o.format, graph: renderGraph(m, o.format, only) };
  },
  render: (d: GraphData) => d.graph,
});
