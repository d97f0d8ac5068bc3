import { useState } from 'react';

// Movie cards for the rows behind an answer. `props.movies` comes from chatbot/render.py
// movie_cards(): plain values (React escapes them) and a poster URL only when it is an http(s)
// image URL; without one, or when it does not load (no network), a placeholder shows the title's
// initials on the title's own colour. `ref` is the number in the Sources line.
// `mine` is the person's own stars; clicking a star stores it (action rate_movie in app.py,
// table person_ratings), clicking the same star again forgets it.
export default function MovieCards() {
  const movies = (props && props.movies) || [];
  const [broken, setBroken] = useState({});
  const [mine, setMine] = useState(() => Object.fromEntries(movies.map((m) => [m.id, m.mine || 0])));
  const rateMovie = (id, stars) => {
    const next = mine[id] === stars ? 0 : stars;
    setMine({ ...mine, [id]: next });
    callAction({ name: 'rate_movie', payload: { movie_id: id, rating: next } });
  };
  return (
    <div className="mr-cards" data-testid="movie-cards">
      {movies.map((m) => (
        <div key={m.id} className={m.ref ? 'mr-card mr-cited' : 'mr-card'} data-movie-id={m.id}>
          {m.poster && !broken[m.id] ? (
            <img
              className="mr-poster"
              src={m.poster}
              alt=""
              loading="lazy"
              referrerPolicy="no-referrer"
              onError={() => setBroken({ ...broken, [m.id]: true })}
            />
          ) : (
            <div className="mr-poster mr-placeholder" aria-hidden="true"
                 style={{ background: `hsl(${m.hue || 0} 45% 42%)` }}>{m.initials || '?'}</div>
          )}
          <div className="mr-body">
            <div className="mr-title">
              {m.title}
              {m.year ? <span className="mr-year"> ({m.year})</span> : null}
            </div>
            {m.director ? <div className="mr-line">{m.director}</div> : null}
            {m.genres && m.genres.length ? <div className="mr-line">{m.genres.join(' · ')}</div> : null}
            {m.rating ? <div className="mr-line">★ {m.rating}</div> : null}
            {m.ref ? <div className="mr-badge">cited [{m.ref}]</div> : null}
            <div className="mr-stars" data-testid="my-stars" aria-label="your rating">
              {[1, 2, 3, 4, 5].map((n) => (
                <button
                  key={n}
                  type="button"
                  className={n <= (mine[m.id] || 0) ? 'mr-star mr-on' : 'mr-star'}
                  title={`${n} star${n > 1 ? 's' : ''}`}
                  onClick={() => rateMovie(m.id, n)}
                >
                  {n <= (mine[m.id] || 0) ? '★' : '☆'}
                </button>
              ))}
            </div>
          </div>
        </div>
      ))}
    </div>
  );
}
