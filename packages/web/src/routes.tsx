/**
 * The dashboard's extension point: every page is one entry in ROUTES and, if it belongs in the
 * header, one entry in NAV. A later page (telemetry, OTA, alerts…) adds a folder under
 * `pages/` and a line in each list; nothing else changes.
 */
import type { ReactNode } from 'react';
import type { Role } from './api.ts';
import { AlertRulesPage } from './pages/alert-rules/alert-rules-page.tsx';
import { AlertsPage } from './pages/alerts/alerts-page.tsx';
import { ApiKeysPage } from './pages/api-keys/api-keys-page.tsx';
import { AuditPage } from './pages/audit/audit-page.tsx';
import { CasPage } from './pages/cas/cas-page.tsx';
import { ConfigurationPage } from './pages/configurations/configuration-page.tsx';
import { ConfigurationsPage } from './pages/configurations/configurations-page.tsx';
import { DevicePage } from './pages/devices/device-page.tsx';
import { DevicesPage } from './pages/devices/devices-page.tsx';
import { EnrollmentGroupPage } from './pages/enrollment-groups/enrollment-group-page.tsx';
import { EnrollmentGroupsPage } from './pages/enrollment-groups/enrollment-groups-page.tsx';
import { GroupPage } from './pages/groups/group-page.tsx';
import { GroupsPage } from './pages/groups/groups-page.tsx';
import { OverviewPage } from './pages/overview/overview-page.tsx';
import { UsersPage } from './pages/users/users-page.tsx';
import { WebhookPage } from './pages/webhooks/webhook-page.tsx';
import { WebhooksPage } from './pages/webhooks/webhooks-page.tsx';
import { JobPage } from './pages/jobs/job-page.tsx';
import { JobsPage } from './pages/jobs/jobs-page.tsx';
import { FirmwareListPage } from './pages/firmware/firmware-list-page.tsx';
import { FirmwarePage } from './pages/firmware/firmware-page.tsx';
import { RolloutPage } from './pages/rollouts/rollout-page.tsx';
import { RolloutsPage } from './pages/rollouts/rollouts-page.tsx';
import { Lwm2mPage } from './pages/lwm2m/lwm2m-page.tsx';
import { matchPath, type HashLocation, type RouteParams } from './router.ts';

export interface RouteDef {
  /** Hash path pattern; `:name` segments become params. */
  pattern: string;
  /** Lowest role that may open the page; others see a "needs role" notice. */
  minRole?: Role;
  render(params: RouteParams, location: HashLocation): ReactNode;
}

export interface NavItem {
  label: string;
  path: string;
  minRole?: Role;
  /** Less-used pages go behind the header's "More" button (the header must fit 1024 px). */
  more?: boolean;
}

/** Where sign-in and `#/` land: the fleet at a glance. */
export const DEFAULT_PATH = '/overview';

export const ROUTES: RouteDef[] = [
  { pattern: '/overview', render: (_p, location) => <OverviewPage location={location} /> },
  { pattern: '/devices', render: (_p, location) => <DevicesPage location={location} /> },
  // Keyed by id: moving between two devices starts the page afresh.
  { pattern: '/devices/:id', render: (p) => <DevicePage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/groups', render: () => <GroupsPage /> },
  { pattern: '/groups/:id', render: (p) => <GroupPage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/enrollment-groups', render: () => <EnrollmentGroupsPage /> },
  {
    pattern: '/enrollment-groups/:id',
    render: (p) => <EnrollmentGroupPage key={p['id']} id={p['id'] ?? ''} />,
  },
  { pattern: '/alerts', render: (_p, location) => <AlertsPage location={location} /> },
  { pattern: '/alert-rules', render: () => <AlertRulesPage /> },
  { pattern: '/webhooks', render: () => <WebhooksPage /> },
  { pattern: '/webhooks/:id', render: (p) => <WebhookPage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/configurations', render: () => <ConfigurationsPage /> },
  { pattern: '/configurations/:id', render: (p) => <ConfigurationPage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/cas', minRole: 'admin', render: () => <CasPage /> },
  { pattern: '/api-keys', minRole: 'admin', render: () => <ApiKeysPage /> },
  { pattern: '/users', minRole: 'admin', render: () => <UsersPage /> },
  { pattern: '/audit', minRole: 'admin', render: (_p, location) => <AuditPage location={location} /> },
  { pattern: '/jobs', render: () => <JobsPage /> },
  { pattern: '/jobs/:id', render: (p) => <JobPage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/firmware', render: () => <FirmwareListPage /> },
  { pattern: '/firmware/:id', render: (p) => <FirmwarePage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/rollouts', render: () => <RolloutsPage /> },
  { pattern: '/rollouts/:id', render: (p) => <RolloutPage key={p['id']} id={p['id'] ?? ''} /> },
  { pattern: '/lwm2m', render: (_p, location) => <Lwm2mPage location={location} /> },
];

export const NAV: NavItem[] = [
  { label: 'Overview', path: '/overview' },
  { label: 'Devices', path: '/devices' },
  { label: 'Groups', path: '/groups' },
  { label: 'Alerts', path: '/alerts' },
  { label: 'Configurations', path: '/configurations', more: false },
  { label: 'Enrollment', path: '/enrollment-groups', more: true },
  { label: 'Alert rules', path: '/alert-rules', more: true },
  { label: 'Webhooks', path: '/webhooks', more: true },
  // Operator pages before the admin-only ones, which close the "More" menu (Audit stays last).
  { label: 'Jobs', path: '/jobs', more: true },
  { label: 'Firmware', path: '/firmware', more: true },
  { label: 'Rollouts', path: '/rollouts', more: true },
  { label: 'LwM2M', path: '/lwm2m', more: true },
  { label: 'CAs', path: '/cas', minRole: 'admin', more: true },
  { label: 'API keys', path: '/api-keys', minRole: 'admin', more: true },
  { label: 'Users', path: '/users', minRole: 'admin', more: true },
  { label: 'Audit', path: '/audit', minRole: 'admin', more: true },
];

export function resolveRoute(path: string): { route: RouteDef; params: RouteParams } | null {
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}
