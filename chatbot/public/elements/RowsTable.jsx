import { useState } from 'react';

// The rows behind an answer as a compact, collapsible, sortable table. `props` comes from
// chatbot/render.py rows_table(): column labels and string cells (React escapes them); `ref` is the
// row's citation number; `open` unfolds it (a long set's primary view); `total` is how many films
// matched when more than the rows shown. Clicking a header sorts by that column.
export default function RowsTable() {
  const columns = (props && props.columns) || [];
  const rows = (props && props.rows) || [];
  const [open, setOpen] = useState(!!(props && props.open));
  const [sort, setSort] = useState(null); // [column index, 1 | -1]
  const total = props && props.total;
  const value = (cell) => (cell !== '' && !isNaN(Number(cell)) ? Number(cell) : String(cell).toLowerCase());
  const shown = sort === null ? rows : [...rows].sort((a, b) => {
    const x = value(a.cells[sort[0]]), y = value(b.cells[sort[0]]);
    return (x < y ? -1 : x > y ? 1 : 0) * sort[1];
  });
  const sortBy = (i) => setSort(sort && sort[0] === i ? [i, -sort[1]] : [i, 1]);
  return (
    <div className="mr-table" data-testid="rows-table">
      <button type="button" className="mr-table-toggle" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {rows.length} film{rows.length === 1 ? '' : 's'}
        {total ? ` shown of ${total} that match` : ' behind this answer'}
      </button>
      {open ? (
        <div className="mr-table-scroll">
          <table>
            <thead>
              <tr>
                <th>#</th>
                {columns.map((c, i) => (
                  <th key={i} onClick={() => sortBy(i)} className="mr-sortable" title="sort">
                    {c}{sort && sort[0] === i ? (sort[1] > 0 ? ' ▴' : ' ▾') : ''}
                  </th>
                ))}
                <th>cited</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r, i) => (
                <tr key={i} className={r.ref ? 'mr-cited-row' : ''}>
                  <td>{i + 1}</td>
                  {r.cells.map((cell, j) => <td key={j} className={/\s/.test(String(cell)) || String(cell).length > 12 ? undefined : 'mr-word'}>{cell}</td>)}
                  <td>{r.ref ? '[' + r.ref + ']' : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
