/**
 * The tabs of the administration view, in order. A tab is { id, label(), component }: add one here (a
 * component of its own in this folder) and AdminView shows it; the admin routes check access again.
 */
import { t } from '@nextcloud/l10n'
import ActivityTab from './ActivityTab.vue'
import AuditTab from './AuditTab.vue'
import BudgetsTab from './BudgetsTab.vue'
import ConnectionsTab from './ConnectionsTab.vue'
import PresetsTab from './PresetsTab.vue'
import UsageTab from './UsageTab.vue'
import { APP_ID } from '../../config.js'

export const ADMIN_TABS = [
	{ id: 'usage', label: () => t(APP_ID, 'Usage'), component: UsageTab },
	{ id: 'activity', label: () => t(APP_ID, 'Activity'), component: ActivityTab },
	{ id: 'budgets', label: () => t(APP_ID, 'Budgets'), component: BudgetsTab },
	{ id: 'connections', label: () => t(APP_ID, 'Connections'), component: ConnectionsTab },
	{ id: 'presets', label: () => t(APP_ID, 'Presets'), component: PresetsTab },
	{ id: 'audit', label: () => t(APP_ID, 'Audit log'), component: AuditTab },
]
