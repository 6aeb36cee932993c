// `git bisect run` runs this on each revision: node harness/bisect/git-step.mjs CONFIG.json.
// It builds the checkout, runs the scenario on the built QEMU and exits 0 good, 1 bad,
// 125 skip (the build failed), 128 to stop the bisect (see git-step.ts).
import { register } from 'tsx/esm/api';

register();
const { gitStepMain } = await import('./git-step.ts');
process.exitCode = await gitStepMain(process.argv[2]);
