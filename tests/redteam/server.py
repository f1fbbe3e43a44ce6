import http.server, json, sys, re, os
LOG = sys.argv[2] if len(sys.argv) > 2 else '/tmp/rt/server.log'
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        n = int(self.headers.get('content-length', 0))
        body = json.loads(self.rfile.read(n) or b'{}')
        with open(LOG, 'a') as f:
            f.write(json.dumps({'path': self.path, 'auth': self.headers.get('authorization'), 'body': body}) + '\n')
        prompt = json.dumps(body.get('messages', body))
        if '<rubric>' in prompt:
            m = re.search(r'<output>(.*?)</output>', prompt, re.S)
            good = body.get('model') != 'gpt-4o' or (m and '30 days' in m.group(1))
            text = json.dumps({"pass": bool(good), "score": 1 if good else 0, "reason": "judged by " + str(body.get('model'))})
        else:
            window = '14' if ('14 days' in prompt and not os.path.exists('/tmp/rt/lie')) else '30'
            text = f'Refunds within {window} days.'
        out = {"id": "x", "object": "chat.completion", "model": body.get('model'),
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        data = json.dumps(out).encode()
        self.send_response(200); self.send_header('content-type', 'application/json'); self.send_header('content-length', str(len(data))); self.end_headers(); self.wfile.write(data)
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
