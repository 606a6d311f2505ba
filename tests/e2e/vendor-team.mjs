// Vendor journey (issue 20, team and audit): the owner invites a viewer from the Team page;
// the viewer follows the emailed link (SMTP sink), chooses a name and password, sees pages
// without change buttons, and gets the 403 page when posting anyway. Screenshots of the
// team and activity-log pages at 1280 and 375 px.
//
//   cargo build && node tests/e2e/vendor-team.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Flow, visibleText } from './lib/browser.mjs';
import { assertNoHorizontalScroll, newContext, signIn, startVendorHarness, stopVendorHarness } from './lib/vendor.mjs';

const VIEWER = 'vera@acme.test';
const VIEWER_PASSWORD = 'viewer passphrase 42';
const TIMEOUT = 60000;
let h;

describe('vendor: team, roles and the activity log', () => {
  before(async () => {
    h = await startVendorHarness('vendor-team');
  });

  after(async () => {
    await stopVendorHarness(h);
  });

  it('an owner invites a viewer who joins by email and cannot change anything', { timeout: TIMEOUT }, async () => {
    const f = new Flow('vendor-team', h.artifacts);
    const owner = await (await newContext(h)).newPage();
    f.page = owner;
    const base = h.server.baseUrl;

    await f.step('the owner invites a viewer from the Team page', async () => {
      await signIn(h, owner);
      // Team sits under the header's "More" menu (occasional pages).
      await owner.locator('summary', { hasText: 'More' }).click();
      await owner.getByRole('link', { name: 'Team', exact: true }).click();
      await owner.waitForURL(/\/dashboard\/team$/);
      await owner.locator('#invite input[name="email"]').fill(VIEWER);
      await owner.locator('#invite select[name="role"]').selectOption('viewer');
      const before = h.sink.messages.length;
      await Promise.all([
        owner.waitForURL(/done=invited/),
        owner.getByRole('button', { name: 'Send invitation' }).click(),
      ]);
      const text = await visibleText(owner);
      assert.match(text, new RegExp(`Invitation sent to ${VIEWER}`));
      assert.match(text, /Invited/);
      h.invite = await h.sink.waitFor(VIEWER, { after: before });
    });

    const viewer = await (await newContext(h)).newPage();
    await f.step('the viewer follows the emailed link and sets a name and password', async () => {
      f.page = viewer;
      assert.match(h.invite.subject, /invited you to the Acme Inc dashboard/);
      const link = h.invite.links().find((l) => l.includes('/join/'));
      assert.ok(link, `a join link in: ${h.invite.text}`);
      await viewer.goto(link);
      assert.match(await visibleText(viewer), /Join Acme Inc/);
      await viewer.locator('input[name="name"]').fill('Vera Viewer');
      await viewer.locator('input[name="password"]').fill('short');
      // The browser's own minlength check would stop the short password; the server's
      // message beside the field is what a script-free client sees.
      await viewer.locator('input[name="password"]').evaluate((el) => el.removeAttribute('minlength'));
      await viewer.getByRole('button', { name: 'Join the team' }).click();
      await viewer.locator('#password-error').waitFor();
      assert.match(await viewer.locator('#password-error').innerText(), /at least 10 characters/);
      await viewer.locator('input[name="password"]').fill(VIEWER_PASSWORD);
      await Promise.all([
        viewer.waitForURL(/\/dashboard$/),
        viewer.getByRole('button', { name: 'Join the team' }).click(),
      ]);
    });

    await f.step('the viewer sees pages without change buttons', async () => {
      await viewer.goto(`${base}/dashboard/team`);
      const text = await visibleText(viewer);
      assert.match(text, /Vera Viewer/);
      assert.match(text, /can see the team but not change it/);
      assert.equal(await viewer.getByRole('button', { name: 'Send invitation' }).count(), 0);
      assert.equal(await viewer.locator('summary', { hasText: 'Remove' }).count(), 0);
      await viewer.goto(`${base}/dashboard/settings`);
      assert.equal(await viewer.getByRole('button', { name: 'Save settings' }).count(), 0);
      for (const path of ['/dashboard/payouts', '/dashboard/affiliates', '/dashboard/programs', '/dashboard/developers']) {
        await viewer.goto(`${base}${path}`);
        const changing = viewer.locator('form[method="post"]:not(.viewer-ok) button, [hx-post] button, button[hx-post]');
        const shown = await changing.evaluateAll((els) => els.filter((e) => e.offsetParent !== null).length);
        assert.equal(shown, 0, `${path} shows a change button to a viewer`);
      }
    });

    await f.step('posting anyway gets the 403 page', async () => {
      await viewer.goto(`${base}/dashboard/account`);
      const csrf = await viewer.locator('input[name="csrf_token"]').first().inputValue();
      // A form a viewer never sees, posted from the page as a browser would.
      await viewer.evaluate(({ csrf }) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/dashboard/team/invite';
        for (const [k, v] of Object.entries({ csrf_token: csrf, email: 'x@acme.test', role: 'owner' })) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = k;
          input.value = v;
          form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
      }, { csrf });
      await viewer.waitForURL(/\/dashboard\/team\/invite$/);
      const text = await visibleText(viewer);
      assert.match(text, /Not allowed/); // the 403 page, headed in words
      assert.match(text, /can view these pages but not change anything/);
      await f.screenshot('viewer-403', viewer);
    });

    await f.step('the activity log tells the story in words', async () => {
      f.page = owner;
      await owner.goto(`${base}/dashboard/audit`);
      const text = await visibleText(owner);
      assert.match(text, /owner@acme\.test invited Vera Viewer to the team as Viewer/);
      assert.match(text, /Vera Viewer accepted the invitation and joined the team as Viewer/);
      assert.doesNotMatch(text, /usr_|user:|staff\.invited/);
    });

    await f.step('team and activity log at 1280 and 375 px', async () => {
      for (const width of [1280, 375]) {
        await owner.setViewportSize({ width, height: 900 });
        for (const path of ['/dashboard/team', '/dashboard/audit', '/dashboard/account']) {
          await owner.goto(`${base}${path}`);
          await assertNoHorizontalScroll(owner, `${path} at ${width}px`);
          await f.screenshot(`${path.split('/').pop()}-${width}`, owner);
        }
      }
    });
  });
});
