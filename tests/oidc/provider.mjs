// An OpenID Connect provider on 127.0.0.1 for the browser tests: oauth2-mock-server signs ID
// tokens with a fresh RS256 key and signs in without a login form. A control endpoint sets the
// claims of the next sign-ins (email, email_verified, roles, ...): POST /claims with a JSON body.
// Prints one line, {"issuer": ..., "control": ...}, once both listen.
import http from "node:http";
import { OAuth2Server } from "oauth2-mock-server";

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
let claims = {};

server.service.on("beforeTokenSigning", (token) => {
  Object.assign(token.payload, claims);
});
server.service.on("beforeUserinfo", (userInfoResponse) => {
  userInfoResponse.body = { sub: claims.sub || "johndoe", ...claims };
});

await server.start(0, "127.0.0.1");
server.issuer.url = `http://127.0.0.1:${server.address().port}`;  // not "localhost": it may resolve to ::1

const control = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => { body += chunk; });
  request.on("end", () => {
    if (request.method === "POST" && request.url === "/claims") {
      claims = JSON.parse(body || "{}");
      response.writeHead(204).end();
    } else {
      response.writeHead(404).end();
    }
  });
});
control.listen(0, "127.0.0.1", () => {
  const issuer = server.issuer.url;
  console.log(JSON.stringify({ issuer, control: `http://127.0.0.1:${control.address().port}` }));
});

const stop = async () => { control.close(); await server.stop(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
