/**
 * Device identity in the dashboard, in a real browser against a real Hangar process: issuing
 * token and X.509 credentials (secret shown once, certificate checked with openssl against the
 * tenant CA), revocation reaching the CRL, a claim-token enrollment group a device enrolls
 * through, registering and verifying an external CA made with openssl, and decommissioning.
 * Debian's chromium driven by playwright-core (e2e/support/browser.ts); without it the
 * suite is skipped with a loud notice.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { startHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-identity.test.ts', 'identity dashboard browser tests');
const DEVICE_ID = 'identity-sensor-01';
const ENROLLED_ID = 'line-a-0001';
const SCREENSHOTS = {
  device: '/tmp/hangar-identity-device.png',
  enrollmentGroups: '/tmp/hangar-identity-enrollment-groups.png',
  enrollmentGroup: '/tmp/hangar-identity-enrollment-group.png',
  cas: '/tmp/hangar-identity-cas.png',
};

function openssl(cwd: string, ...args: string[]): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe.skipIf(!hasChromium)('device identity in the dashboard', () => {
  let hangar: Awaited<ReturnType<typeof startHangar>>;
  let browser: Browser;
  let page: Page;
  let work: string;
  let signInKey: string;
  let tokenSecret: string;
  let certificateId: string;
  let certificateSerial: string;

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);

  async function publicText(path: string): Promise<string> {
    const res = await fetch(`${hangar.url}${path}`);
    expect(res.status).toBe(200);
    return res.text();
  }

  async function text(testId: string): Promise<string> {
    return ((await page.getByTestId(testId).textContent()) ?? '').trim();
  }

  async function openDevicePage(): Promise<void> {
    await page.goto(`${hangar.url}/#/devices/${DEVICE_ID}`);
    await page.locator(`[data-testid="device-page"][data-device-id="${DEVICE_ID}"]`).waitFor();
    await page.getByTestId('device-credentials').waitFor();
  }

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    work = mkdtempSync(join(tmpdir(), 'hangar-identity-'));
    await adminApi('POST', '/devices', { id: DEVICE_ID, type: 'sensor', tags: { site: 'berlin' } });
    const key = await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-identity', role: 'admin' });
    signInKey = key.token;

    browser = await launchBrowser();
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('signs in with an admin API key', async () => {
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, signInKey);
    expect(await text('whoami-role')).toBe('admin');
    expect(await page.getByTestId('nav-enrollment-groups').count()).toBe(1);
    expect(await page.getByTestId('nav-cas').count()).toBe(1);
  });

  it('issues a token credential and shows the token exactly once', async () => {
    await openDevicePage();
    await page.getByTestId('credentials-empty').waitFor();
    await page.getByTestId('issue-kind-token').check();
    await page.getByTestId('issue-credential-submit').click();
    await page.getByTestId('issued-credential-panel').waitFor();
    expect(await text('issued-credential-warning')).toContain('you will not see the token again');
    tokenSecret = await text('issued-token');
    expect(tokenSecret).toMatch(/^\S{16,}$/);

    const listed = await adminApi<{ items: { id: string; type: string; status: string }[] }>('GET', `/devices/${DEVICE_ID}/credentials`);
    expect(listed.items).toEqual([expect.objectContaining({ type: 'token', status: 'active' })]);
    await page.locator(`[data-testid="credential-row"][data-credential-id="${listed.items[0]?.id}"]`).waitFor();

    await page.getByTestId('dismiss-issued-credential').click();
    await page.getByTestId('issued-credential-panel').waitFor({ state: 'detached' });
    await openDevicePage();
    await page.getByTestId('credentials-table').waitFor();
    expect(await page.content()).not.toContain(tokenSecret);
  });

  it('shows an API error from issuing inline', async () => {
    await page.getByTestId('issue-kind-csr').check();
    await page.getByTestId('issue-csr').fill('not a certificate request');
    await page.getByTestId('issue-credential-submit').click();
    const error = page.getByTestId('issue-credential-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('400');
    expect(await error.textContent()).toContain('CERTIFICATE REQUEST');
  });

  it('issues an X.509 credential whose certificate verifies against the tenant CA, and shows its key once', async () => {
    await page.getByTestId('issue-kind-x509').check();
    await page.getByTestId('issue-validity-days').fill('30');
    await page.getByTestId('issue-credential-submit').click();
    const panel = page.getByTestId('issued-credential-panel');
    await panel.waitFor();
    certificateId = (await panel.getAttribute('data-credential-id')) ?? '';
    expect(certificateId).not.toBe('');
    expect(await text('issued-credential-warning')).toContain('you will not see the private key again');

    const certificatePem = await text('issued-certificate');
    const privateKeyPem = await text('issued-private-key');
    const caPem = await text('issued-ca');
    expect(certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----$/);
    expect(await page.getByTestId('issued-certificate-download').getAttribute('download')).toBe(`${certificateId}.crt.pem`);
    expect(await page.getByTestId('issued-private-key-download').getAttribute('download')).toBe(`${certificateId}.key.pem`);
    expect(await page.getByTestId('issued-ca-download').getAttribute('download')).toBe('ca.pem');
    expect(await page.getByTestId('issued-certificate-download').getAttribute('href')).toMatch(/^blob:/);

    const tenantCaPem = await publicText('/pki/default/ca.pem');
    expect(caPem.trim()).toBe(tenantCaPem.trim());
    writeFileSync(join(work, 'tenant-ca.pem'), tenantCaPem);
    writeFileSync(join(work, 'device.crt.pem'), `${certificatePem}\n`);
    writeFileSync(join(work, 'device.key.pem'), `${privateKeyPem}\n`);
    expect(openssl(work, 'verify', '-CAfile', 'tenant-ca.pem', 'device.crt.pem').trim()).toBe('device.crt.pem: OK');
    expect(openssl(work, 'x509', '-in', 'device.crt.pem', '-noout', '-subject', '-nameopt', 'RFC2253').trim()).toBe(`subject=CN=${DEVICE_ID}`);
    // The key shown is the certificate's key.
    expect(openssl(work, 'pkey', '-in', 'device.key.pem', '-pubout')).toBe(openssl(work, 'x509', '-in', 'device.crt.pem', '-noout', '-pubkey'));
    certificateSerial = openssl(work, 'x509', '-in', 'device.crt.pem', '-noout', '-serial').trim().replace(/^serial=/, '').toUpperCase();

    await page.getByTestId('dismiss-issued-credential').click();
    await openDevicePage();
    const row = page.locator(`[data-testid="credential-row"][data-credential-id="${certificateId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('P-256');
    expect(await page.content()).not.toContain('BEGIN PRIVATE KEY');
  });

  it('revokes the certificate with a reason, and the CRL changes', async () => {
    const crlBefore = await publicText('/pki/default/crl.pem');
    await page.getByTestId(`revoke-credential-${certificateId}`).click();
    await page.getByTestId('revoke-credential-dialog').waitFor();
    await page.getByTestId('revoke-reason').selectOption('keyCompromise');
    await page.getByTestId('revoke-credential-confirm').click();
    await page.getByTestId('revoke-credential-dialog').waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="credential-row"][data-credential-id="${certificateId}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('revoked');
    expect(await row.getByTestId('credential-status').textContent()).toBe('revoked');
    expect(await row.textContent()).toContain('keyCompromise');

    const crlAfter = await publicText('/pki/default/crl.pem');
    expect(crlAfter).not.toBe(crlBefore);
    writeFileSync(join(work, 'crl.pem'), crlAfter);
    const crlText = openssl(work, 'crl', '-in', 'crl.pem', '-noout', '-text');
    expect(crlText.replace(/:/g, '')).toContain(certificateSerial);
    expect(crlText).toContain('Key Compromise');
  });

  it('creates a claim-token enrollment group, shows its token once, and counts a device that enrolls with it', async () => {
    await openFromNav(page, 'enrollment-groups');
    await page.getByTestId('new-enrollment-group-button').click();
    await page.getByTestId('new-enrollment-name').fill('line-a');
    await page.getByTestId('new-enrollment-mechanism-claim_token').check();
    await page.getByTestId('new-enrollment-credential-type').selectOption('token');
    await page.getByTestId('new-enrollment-tags').fill('site=berlin\nline=a');
    // The initial desired state must be a JSON object; the form says so before sending.
    await page.getByTestId('new-enrollment-desired').fill('[1, 2]');
    await page.getByTestId('new-enrollment-desired-error').waitFor();
    expect(await page.getByTestId('new-enrollment-submit').isDisabled()).toBe(true);
    await page.getByTestId('new-enrollment-desired').fill('{"reportIntervalSeconds": 60}');
    await page.getByTestId('new-enrollment-desired-error').waitFor({ state: 'detached' });
    await page.getByTestId('new-enrollment-limit').fill('10');
    await page.getByTestId('new-enrollment-submit').click();

    const panel = page.getByTestId('enrollment-secret-panel');
    await panel.waitFor();
    const groupId = (await panel.getAttribute('data-enrollment-group-id')) ?? '';
    const claimToken = await text('enrollment-claim-token');
    expect(claimToken.length).toBeGreaterThan(15);
    expect(await panel.textContent()).toContain('you will not see it again');
    const row = page.locator(`[data-testid="enrollment-group-row"][data-enrollment-group-id="${groupId}"]`);
    await row.waitFor();
    expect(await row.getByTestId('enrollment-group-count').textContent()).toBe('0 / 10');

    const res = await fetch(`${hangar.url}/device/v1/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentGroupId: groupId, deviceId: ENROLLED_ID, claimToken }),
    });
    expect(res.status).toBe(201);
    const enrolled = (await res.json()) as { deviceId: string; credential: { type: string; token?: string } };
    expect(enrolled.deviceId).toBe(ENROLLED_ID);
    expect(enrolled.credential.type).toBe('token');
    const device = await adminApi<{ tags: Record<string, string> }>('GET', `/devices/${ENROLLED_ID}`);
    expect(device.tags).toMatchObject({ site: 'berlin', line: 'a' });

    await page.getByTestId('created-enrollment-group-link').click();
    await page.locator(`[data-testid="enrollment-group-page"][data-enrollment-group-id="${groupId}"]`).waitFor();
    await expect.poll(() => page.getByTestId('enrollment-group-enrolled').getAttribute('data-count')).toBe('1');
    expect(await page.getByTestId('provision-example-body').textContent()).toContain(`"enrollmentGroupId": "${groupId}"`);
    expect(await page.getByTestId('enrollment-group-desired').textContent()).toContain('reportIntervalSeconds');
    expect(await page.content()).not.toContain(claimToken);

    await page.getByTestId('toggle-enrollment-group').click();
    await expect.poll(() => text('enrollment-group-enabled')).toMatch(/^no/);
    const refused = await fetch(`${hangar.url}/device/v1/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentGroupId: groupId, deviceId: 'line-a-0002', claimToken }),
    });
    expect(refused.status).toBe(403);
    await page.getByTestId('toggle-enrollment-group').click();
    await expect.poll(() => text('enrollment-group-enabled')).toMatch(/^yes/);
    await page.screenshot({ path: SCREENSHOTS.enrollmentGroup, fullPage: true });

    await openFromNav(page, 'enrollment-groups');
    await expect.poll(() => row.getByTestId('enrollment-group-count').textContent()).toBe('1 / 10');
    await page.screenshot({ path: SCREENSHOTS.enrollmentGroups, fullPage: true });
  });

  it('registers an external CA made with openssl and verifies it with a certificate for its code', async () => {
    openssl(work, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=vendor', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    await openFromNav(page, 'cas');
    await page.getByTestId('tenant-ca').waitFor();
    expect(await page.getByTestId('tenant-ca-pem-link').getAttribute('href')).toBe('/pki/default/ca.pem');
    expect(await page.getByTestId('tenant-crl-link').getAttribute('href')).toBe('/pki/default/crl.pem');

    await page.getByTestId('register-ca-pem').fill(readFileSync(join(work, 'ca.pem'), 'utf8'));
    await page.getByTestId('register-ca-submit').click();
    const panel = page.getByTestId('ca-verify-panel');
    await panel.waitFor();
    const caId = (await panel.getAttribute('data-ca-id')) ?? '';
    const code = await text('ca-verification-code');
    expect(code).toMatch(/^\S{8,}$/);
    expect(await text('ca-verification-commands')).toContain(`/CN=${code}`);
    const row = page.locator(`[data-testid="ca-row"][data-ca-id="${caId}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('pending_verification');

    // A certificate for another CN is refused, and the page shows the API's detail.
    openssl(work, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'w.key', '-subj', '/CN=not-the-code', '-out', 'w.csr');
    openssl(work, 'x509', '-req', '-in', 'w.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'w.pem');
    await page.getByTestId('ca-verification-pem').fill(readFileSync(join(work, 'w.pem'), 'utf8'));
    await page.getByTestId('ca-verify-submit').click();
    await page.getByTestId('ca-verify-error').waitFor();
    expect(await text('ca-verify-error')).toContain('verification code');

    openssl(work, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'v.key', '-subj', `/CN=${code}`, '-out', 'v.csr');
    openssl(work, 'x509', '-req', '-in', 'v.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'v.pem');
    await page.getByTestId('ca-verification-pem').fill(readFileSync(join(work, 'v.pem'), 'utf8'));
    await page.getByTestId('ca-verify-submit').click();
    await page.getByTestId('ca-verified').waitFor();
    await expect.poll(() => row.getAttribute('data-status')).toBe('active');
    expect(await row.getByTestId('ca-status').textContent()).toBe('active');
    const ca = await adminApi<{ status: string; subject: string }>('GET', `/cas/${caId}`);
    expect(ca).toMatchObject({ status: 'active', subject: 'CN=vendor' });

    await page.getByTestId(`disable-ca-${caId}`).click();
    await expect.poll(() => row.getAttribute('data-status')).toBe('disabled');
    await page.getByTestId(`enable-ca-${caId}`).click();
    await expect.poll(() => row.getAttribute('data-status')).toBe('active');
    await page.screenshot({ path: SCREENSHOTS.cas, fullPage: true });
  });

  it('decommissions the device after its id is typed, shows the banner, and recommissions it', async () => {
    await openDevicePage();
    await page.getByTestId('decommission-device').click();
    await page.getByTestId('decommission-dialog').waitFor();
    expect(await page.getByTestId('decommission-submit').isDisabled()).toBe(true);
    await page.getByTestId('decommission-confirm-id').fill(`${DEVICE_ID}-typo`);
    expect(await page.getByTestId('decommission-submit').isDisabled()).toBe(true);
    await page.getByTestId('decommission-confirm-id').fill(DEVICE_ID);
    await page.getByTestId('decommission-purge').check();
    await page.getByTestId('decommission-submit').click();

    await page.getByTestId('decommissioned-banner').waitFor();
    // The token issued earlier was the one credential still active.
    expect(await text('decommission-result')).toContain('revoked 1 credential');
    const device = await adminApi<{ status: string }>('GET', `/devices/${DEVICE_ID}`);
    expect(device.status).toBe('decommissioned');
    await expect
      .poll(() => page.locator('[data-testid="credential-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status'))))
      .toEqual(['revoked', 'revoked']);
    expect(await page.getByTestId('tag-add').isDisabled()).toBe(true);
    expect(await page.getByTestId('decommission-device').isDisabled()).toBe(true);
    expect(await page.getByTestId('delete-device').isDisabled()).toBe(true);
    expect(await page.getByTestId('issue-credential-form').count()).toBe(0);
    await page.screenshot({ path: SCREENSHOTS.device, fullPage: true });

    await page.getByTestId('recommission-device').click();
    await page.getByTestId('decommissioned-banner').waitFor({ state: 'detached' });
    await page.getByTestId('issue-credential-form').waitFor();
    expect(await page.getByTestId('tag-add').isDisabled()).toBe(false);
    expect((await adminApi<{ status: string }>('GET', `/devices/${DEVICE_ID}`)).status).toBe('active');
  });
});
