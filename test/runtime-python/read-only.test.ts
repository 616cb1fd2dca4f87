/**
 * The pod runs the runtime as uid 1000 (the python image's user is root) with a read-only root
 * filesystem, read-only ConfigMap mounts and a writable /tmp only. Here: a non-root uid for which the
 * runtime files, the code directory and the working directory are not writable, and a TMPDIR that is.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NODE_UID } from '../../src/contract';
import { PYTHON_RUNTIME_MAIN, PythonRuntimeProcess, stopAllPython } from './process';

// Debian's interpreter: readable by any uid (an interpreter under root's home may not be).
const SYSTEM_PYTHON = '/usr/bin/python3';
const canDropPrivileges =
  process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0 && existsSync(SYSTEM_PYTHON);

const HANDLER = `
import os, tempfile

def main(event, context):
    with tempfile.NamedTemporaryFile(dir=None, delete=True) as f:  # TMPDIR: the pod's /tmp emptyDir
        f.write(b"x")
        where = os.path.dirname(f.name)
    try:
        open(os.path.join(os.path.dirname(__file__), "written-by-handler"), "w")
        code_writable = True
    except OSError:
        code_writable = False
    return {"uid": os.getuid(), "tmp": where, "codeWritable": code_writable}
`;

afterAll(stopAllPython);

(canDropPrivileges ? it : it.skip)(
  `serves as uid ${NODE_UID} with only TMPDIR writable, and writes no bytecode`,
  async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'kubefaas-py-tmp-'));
    chownSync(tmp, NODE_UID, NODE_UID);
    try {
      const rt = await PythonRuntimeProcess.start(
        HANDLER,
        { TMPDIR: tmp, HOME: tmp },
        {
          command: ['setpriv', `--reuid=${NODE_UID}`, `--regid=${NODE_UID}`, '--clear-groups', SYSTEM_PYTHON],
        },
      );
      const res = await rt.request('/');
      expect(res.json()).toEqual({ uid: NODE_UID, tmp, codeWritable: false });
      expect((await rt.request('/metrics')).status).toBe(200);
      expect(readdirSync(rt.dir)).toEqual(['handler.py']);
      expect(readdirSync(dirname(PYTHON_RUNTIME_MAIN))).not.toContain('__pycache__');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
