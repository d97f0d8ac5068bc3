import { useState } from 'react';

// The rows behind an answer as a compact, collapsible table. `props` comes from chatbot/render.py
// rows_table(): column labels and string cells (React escapes them); `ref` is the number the row
// has in the answer's Sources line.
export default function RowsTable() {
  const columns = (props && props.columns) || [];
  const rows = (props && props.rows) || [];
  const [open, setOpen] = useState(false);
  return (
    <div className="mr-table" data-testid="rows-table">
      <button type="button" className="mr-table-toggle" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {rows.length} row{rows.length === 1 ? '' : 's'} behind this answer
      </button>
      {open ? (
        <div className="mr-table-scroll">
          <table>
            <thead>
              <tr>
                <th>#</th>
                {columns.map((c, i) => <th key={i}>{c}</th>)}
                <th>cited</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i} className={r.ref ? 'mr-cited-row' : ''}>
                  <td>{i + 1}</td>
                  {r.cells.map((cell, j) => <td key={j}>{cell}</td>)}
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
