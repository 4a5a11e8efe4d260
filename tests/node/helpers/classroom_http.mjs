// The classroom's HTTP API as a kid and as the teacher, for Node tests (no browser globals here).
//
//   const kid = await joinKid(demo.url, 'Mia');                      // {token, kid_id, car_id, level, ...}
//   const teacher = await teacherSession(demo.url, demo.teacherPassword);
//   await teacher.post(`/api/teacher/classes/DEMO/kids/${kid.kid_id}/level`, { level: 3 });

export async function joinKid(url, name, classCode = 'DEMO') {
  const res = await fetch(`${url}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ class_code: classCode, name }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`join ${name}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function teacherSession(url, password) {
  const res = await fetch(`${url}/api/teacher/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`teacher login: ${res.status} ${JSON.stringify(body)}`);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  return {
    async get(p) {
      const r = await fetch(url + p, { headers: { Cookie: cookie } });
      const out = await r.json();
      if (!r.ok) throw new Error(`${p}: ${r.status} ${JSON.stringify(out)}`);
      return out;
    },
    async post(p, data) {
      const r = await fetch(url + p, {
        method: 'POST', body: JSON.stringify(data),
        headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': body.csrf_token },
      });
      const out = await r.json();
      if (!r.ok) throw new Error(`${p}: ${r.status} ${JSON.stringify(out)}`);
      return out;
    },
  };
}
