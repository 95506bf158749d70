import { readTreeFile } from './src/devicetree/read.js';
import { nodePath, TreeError } from './src/devicetree/tree.js';
import type { DtNode } from './src/devicetree/tree.js';
const flat = (t: DtNode) => { const m = new Map<string,string>(); const w=(n: DtNode)=>{ const p=nodePath(n); m.set(p+'/', ''); for (const q of n.properties) m.set(p+'#'+q.name, Buffer.from(q.value).toString('hex')); n.children.forEach(w)}; w(t); return m; };
const D='/work/shared/fixtures/linux-dts/boards/';
for (const b of ['highbank','p4080ds','amd-overdrive-rev-b0','bcm958742k','juno','r8a77951-salvator-xs']) {
  const t0=performance.now();
  const [y,d,s] = await Promise.all([readTreeFile(D+b+'.yaml'), readTreeFile(D+b+'.dtb'), readTreeFile(D+b+'.flat.dts')]);
  const fy=flat(y.root), fd=flat(d.root), fs=flat(s.root);
  const diff=(a: Map<string,string>,b2: Map<string,string>)=>{const o:string[]=[]; for (const [k,v] of a) if (b2.get(k)!==v) o.push(k); for (const k of b2.keys()) if(!a.has(k)) o.push('+'+k); return o;};
  console.log(b, y.format, d.format, s.format, fy.size, 'y/d', diff(fy,fd).slice(0,5), 'y/s', diff(fy,fs).slice(0,5), (performance.now()-t0).toFixed(0)+'ms');
}
for (const f of ['/tmp/dtsx/ref.dts','/tmp/dtsx/syn.dts','/tmp/dtsx/inc.dts','/tmp/dtsx/cppinc.dts','/tmp/dtsx/cppsyn.dts','/tmp/dtsx/dup.dts','/tmp/nonexist','/tmp','/work/main/package.json']) {
  try { await readTreeFile(f); console.log('ok', f); } catch (e) { console.log(e instanceof TreeError ? e.format() : e); }
}
