// Driven by benchmarks/bench_scratch.py: a headless scratch-vm with the MIKRO-DOJO extension runs
// `repeat N [move forward 2 cm, move backward 2 cm]` on one car and prints, as one JSON line, when
// each block started (the VM called the block) and when it finished, on CLOCK_MONOTONIC seconds
// (process.hrtime is the same clock as Python's time.monotonic on Linux).
//
//   node benchmarks/scratch_latency.mjs URL TOKEN CAR_ID N
import {
  buildProject, connectCar, createVm, flag, loadProject, moveBackward, moveForward, repeat, setVar, shutdown,
  varValue, waitFor,
} from '../tests/node/helpers/scratch_vm.mjs';

const RUN_TIMEOUT_MS = 180_000; // N back-and-forth 2 cm moves at level-1 speed take ~0.5 s each

const [url, token, carId, n] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e9;

const { vm, ext } = await createVm(url, token);
try {
  await connectCar(vm, carId);
  const calls = [];
  const command = ext._command.bind(ext);
  ext._command = (util, block, args) => {
    const call = { block, t_sent: now(), t_done: null };
    calls.push(call);
    return command(util, block, args).then((value) => { call.t_done = now(); return value; });
  };
  await loadProject(vm, buildProject([[flag(), repeat(Number(n), [moveForward(2), moveBackward(2)]), setVar('done', 1)]],
    { variables: ['done'] }));
  vm.greenFlag();
  await waitFor(() => varValue(vm, 'done') == 1, RUN_TIMEOUT_MS, 'the benchmark program'); // eslint-disable-line eqeqeq
  process.stdout.write(`${JSON.stringify({ calls })}\n`);
} finally {
  await shutdown(vm, ext);
}
process.exit(0);
