// The baseline the benchmark compares the worker against: one KV get and nothing else
// (`?k=key`), or one KV list (`?list=prefix&limit=n`), to show what the local KV itself costs;
// `?noop` answers at once (bench/profile.mjs: the floor of a request).
export default {
  async fetch(request, env) {
    const params = new URL(request.url).searchParams;
    if (params.has("noop")) return new Response("");
    if (params.has("list")) {
      const page = await env.PINS.list({ prefix: params.get("list"), limit: Number(params.get("limit") ?? 1000) });
      return Response.json({ keys: page.keys.length });
    }
    const value = await env.PINS.get(params.get("k") ?? "");
    return new Response(value ?? "", { status: value === null ? 404 : 200 });
  },
};
