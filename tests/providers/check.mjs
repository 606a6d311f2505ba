// Checks Affilia's billing-provider signers against the providers' official verifier
// libraries (issue 22). Reads the vectors `cargo test --lib write_provider_sdk_vectors`
// wrote (path in AFFILIA_PROVIDER_VECTORS) and fails on any disagreement.
//
// - Paddle: @paddle/paddle-node-sdk `webhooks.unmarshal` must accept each signed body and
//   return its event; `isSignatureValid` must refuse another secret and a changed body.
// - Polar: its SDKs (`@polar-sh/sdk/webhooks` validateEvent, polar-python) base64-encode
//   the dashboard secret and hand it to the Standard Webhooks library; the same is done
//   here with `standardwebhooks`, which must accept our signature and refuse another
//   secret or a changed body.
import { readFileSync } from 'node:fs';
import { Paddle, Environment } from '@paddle/paddle-node-sdk';
import { Webhook } from 'standardwebhooks';

const vectors = JSON.parse(readFileSync(process.env.AFFILIA_PROVIDER_VECTORS, 'utf8'));
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
};

const paddle = new Paddle('pdl_sdbx_apikey_check_only', { environment: Environment.sandbox });
const { secret, cases } = vectors.paddle;
for (const c of cases) {
  let event = null;
  try {
    event = await paddle.webhooks.unmarshal(c.body, secret, c.signature);
  } catch (e) {
    console.error(e);
  }
  const type = JSON.parse(c.body).event_type;
  check(event !== null && event.eventType === type, `paddle unmarshal accepts ${c.file} (${type})`);
  check(
    !(await paddle.webhooks.isSignatureValid(c.body, `${secret}x`, c.signature)),
    `paddle refuses ${c.file} under another secret`,
  );
  check(
    !(await paddle.webhooks.isSignatureValid(`${c.body} `, secret, c.signature)),
    `paddle refuses ${c.file} with a changed body`,
  );
}

const polar = vectors.polar;
const asPolarSdk = (s) => new Webhook(Buffer.from(s, 'utf-8').toString('base64'));
let payload = null;
try {
  payload = asPolarSdk(polar.secret).verify(polar.body, polar.headers);
} catch (e) {
  console.error(e);
}
check(payload !== null && payload.type === 'order.paid', 'standardwebhooks (Polar key) accepts our signature');
const refuses = (fn) => {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
};
check(refuses(() => asPolarSdk(`${polar.secret}x`).verify(polar.body, polar.headers)), 'polar refuses another secret');
check(refuses(() => asPolarSdk(polar.secret).verify(`${polar.body} `, polar.headers)), 'polar refuses a changed body');

if (failures > 0) {
  console.error(`${failures} provider SDK check(s) failed`);
  process.exit(1);
}
console.log('provider SDKs agree with our signers');
