// The demo phone: show the newest text, and switch phones as soon as another is chosen.
const thread = document.getElementById("thread");
thread.scrollTop = thread.scrollHeight;
const who = document.querySelector("form.who select");
who.addEventListener("change", () => who.form.submit());
