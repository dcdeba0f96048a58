// The baseline the benchmark compares the worker against: one KV get and nothing else.
export default {
  async fetch(request, env) {
    const key = new URL(request.url).searchParams.get("k") ?? "";
    const value = await env.PINS.get(key);
    return new Response(value ?? "", { status: value === null ? 404 : 200 });
  },
};
