// A third-party MLflow client (the npm package "mlflow", a Node.js client of MLflow's REST API)
// pointed at `churn registry serve`: the calls a training script makes, checked end to end.
// Run by tests/integration/registry_cli_test.cc as: node check.js NODE_MODULES_DIR BASE_URL TOKEN
'use strict';
const assert = require('assert');
const path = require('path');

const [modules, endpoint, token] = process.argv.slice(2);
const MLflow = require(path.join(modules, 'mlflow'));
const client = new MLflow({endpoint, headers: {Authorization: `Bearer ${token}`}});
const {Experiments, Runs, Metrics, Artifacts} = client;
console.log = () => {};  // the client prints every request body

(async () => {
  const {experiment_id} = await Experiments.create({name: 'js-client'});
  const {experiment} = await Experiments.get({experiment_id});
  assert.strictEqual(experiment.name, 'js-client');
  assert.strictEqual(experiment.lifecycle_stage, 'active');

  const {run} = await Runs.create({experiment_id, user_id: 'js', start_time: Date.now(),
                                   tags: [{key: 'flow', value: 'train'}]});
  const run_id = run.info.run_id;
  assert.match(run_id, /^[0-9a-f]{32}$/);
  await Runs.logParameter({run_id, key: 'max_depth', value: '6'});
  for (let step = 0; step < 3; ++step) {
    await Runs.logMetric({run_id, key: 'valid_auc', value: 0.98 + step * 0.005,
                          timestamp: Date.now(), step});
  }
  await Runs.logBatch({run_id, metrics: [{key: 'loss', value: 0.1, timestamp: Date.now(), step: 0}],
                       params: [{key: 'eta', value: '0.1'}], tags: [{key: 'stage', value: 'x'}]});
  await Runs.setTag({run_id, key: 'owner', value: 'ana'});
  await Runs.deleteTag({run_id, key: 'stage'});
  await Runs.update({run_id, status: 'FINISHED', end_time: Date.now()});

  const got = (await Runs.get({run_id})).run;
  assert.strictEqual(got.info.status, 'FINISHED');
  const metrics = Object.fromEntries(got.data.metrics.map(m => [m.key, m.value]));
  assert.ok(Math.abs(metrics.valid_auc - 0.99) < 1e-12, JSON.stringify(got.data.metrics));
  const params = Object.fromEntries(got.data.params.map(p => [p.key, p.value]));
  assert.deepStrictEqual(params, {eta: '0.1', max_depth: '6'});
  const tags = Object.fromEntries(got.data.tags.map(t => [t.key, t.value]));
  assert.strictEqual(tags.owner, 'ana');
  assert.strictEqual(tags.stage, undefined);

  const {runs} = await Runs.search({experiment_ids: [experiment_id],
                                    filter: "metrics.valid_auc > 0.985 and params.max_depth = '6'",
                                    order_by: ['metrics.valid_auc DESC']});
  assert.strictEqual(runs.length, 1);
  assert.strictEqual(runs[0].info.run_id, run_id);
  const empty = await Runs.search({experiment_ids: [experiment_id], filter: 'metrics.valid_auc > 2'});
  assert.ok(!empty.runs || empty.runs.length === 0);

  const history = await Metrics.getHistory({run_id, metric_key: 'valid_auc'});
  assert.deepStrictEqual(history.metrics.map(m => m.step), [0, 1, 2]);

  // Files go up through MLflow's artifact proxy (what an MLflow client does for the run's
  // mlflow-artifacts:/ artifact_uri) and are listed with artifacts/list.
  assert.strictEqual(got.info.artifact_uri, `mlflow-artifacts:/${experiment_id}/${run_id}/artifacts`);
  const proxy = `${endpoint}/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${run_id}/artifacts/`;
  const put = await fetch(proxy + 'model/model.json',
                          {method: 'PUT', body: '{"trees": []}', headers: {Authorization: `Bearer ${token}`}});
  assert.strictEqual(put.status, 200);
  const listing = await Artifacts.list({run_id, path: 'model'});
  assert.deepStrictEqual(listing.files, [{path: 'model/model.json', is_dir: false, file_size: 13}]);
  assert.strictEqual(await (await fetch(proxy + 'model/model.json')).text(), '{"trees": []}');

  // Errors come back as MLflow's error bodies.
  await assert.rejects(Runs.get({run_id: '0123456789abcdef0123456789abcdef'}),
                       e => /RESOURCE_DOES_NOT_EXIST/.test(e.message));
  await assert.rejects(Runs.logParameter({run_id, key: 'max_depth', value: '7'}),
                       e => /INVALID_PARAMETER_VALUE/.test(e.message));
  await Runs.delete({run_id});
  await Runs.restore({run_id});
  await Experiments.delete({experiment_id});
  await Experiments.restore({experiment_id});
  process.stdout.write('mlflow js client: ok\n');
})().catch(e => {
  process.stderr.write(`mlflow js client: ${e.stack || e}\n`);
  process.exit(1);
});
