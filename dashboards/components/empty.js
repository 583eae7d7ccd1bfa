// What every chart, table and tile shows for a query with no rows: "no data" (missing is shown as missing), never an
// error that stops a strict build. Spread into each one: <DataTable {...noData} data={rows}>. (An inline <Value/> has
// the same defaults from its patch in patches/.)
export const noData = { emptySet: 'pass', emptyMessage: 'no data' };
