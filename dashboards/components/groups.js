// The groups the roll-ups are made for. A group page's address says which group it shows (/agencies/<agency_id>,
// /departments/<department>); the overview is the government's.

/** By the address's first part: the group's level in kpi_rollups, the service summary's columns holding its
 *  identifier and its name, how the page calls it, and the index page it belongs to. */
export const GROUPS = {
	agencies: { level: 'agency', column: 'agency_id', name: 'agency_name', noun: 'agency', index: ['Agencies', '/agencies'] },
	departments: { level: 'department', column: 'department', name: 'department', noun: 'department',
		index: ['Departments', '/departments'] }
};

/** The group a page's `params` name: its kind (as in GROUPS) and its identifier, the government's on the overview. */
export function groupOf(params) {
	return params.groups in GROUPS ? { ...GROUPS[params.groups], id: params.group } : { level: 'government', id: 'all' };
}
