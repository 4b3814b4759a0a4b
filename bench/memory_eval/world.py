"""The story behind the memory evaluation set: half a year of a person's life told to a companion, beat by beat.

Written for this project from scratch. Every beat is a few exchanges (the user's words, the companion's
reply) placed in one session; `{slots}` are filled with names drawn by the generator's seeded randomness,
and a list of strings is a set of variants of which one is drawn. Tags on a turn name the facts it holds;
each question lists the tags of the turns that hold its answer. Questions are worded the way a person
would ask months later, with other words than the ones first used, so that keyword overlap alone finds
few of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Text = str | list[str]


@dataclass(frozen=True)
class Ex:
    """One exchange: what the user says, what the companion answers, and the facts each turn holds."""

    user: Text
    reply: Text
    tags: str = ""  # facts in the user's turn, space-separated
    reply_tags: str = ""  # facts in the companion's turn


@dataclass(frozen=True)
class Beat:
    session: int
    exchanges: list[Ex]


@dataclass(frozen=True)
class Q:
    text: str
    type: str  # one-moment | multi-moment | date | inference
    tags: str  # the facts that answer it, space-separated (each: every turn carrying that tag)
    asked: str | None = None  # ISO date the question is asked on, when its wording is relative ("last month")


@dataclass
class Thread:
    name: str
    beats: list[Beat] = field(default_factory=list)
    questions: list[Q] = field(default_factory=list)


SLOTS: dict[str, list[str]] = {
    "user": ["Dana", "Mira", "Leonie"],
    "sister": ["Nell", "Tova", "Clara"],
    "fiance": ["Ruben", "Yusuf", "Oskar"],
    "dog": ["Juniper", "Sable", "Wren"],
    "boss": ["Helen", "Ilse", "Margit"],
    "agency": ["Fernhill Studio", "Bright Lantern Design", "Copperleaf Creative"],
    "bikes": ["Veloform", "Kestrel Cycles", "Longtail Works"],
    "gym": ["the Boulder Barn", "Crux Hall", "the Chalk Factory"],
    "crag": ["Harrow Tor", "Elder Crag", "Gannet Point"],
    "tutor": ["Beatriz", "Joana", "Marta"],
    "friend": ["Priya", "Sofia", "Hanna"],
    "friend_city": ["Glasgow", "Rotterdam", "Montreal"],
    "reader": ["Felix", "Arlo", "Tomasz"],
    "baby": ["Milo", "Iris", "Otto"],
    "mechanic": ["Kasia", "Dev", "Ronan"],
    "upstairs": ["Mr. Albers", "Mr. Lindgren", "Mr. Okafor"],
    "book1": ["The Salt Orchard", "A Map of Small Rooms", "Winter Ledger"],
    "book2": ["The Glass Ferry", "Nine Quiet Rivers", "The Lamplighter's Niece"],
    "aria_book": ["The Cartographer's Garden", "Tides of Ash Island", "The Ninth Lighthouse"],
    "venue": [
        "an old watermill by the river",
        "a barn at her fiancé's family farm",
        "the glasshouse at the botanical garden",
    ],
    "cake": ["lemon and elderflower", "pistachio and rose", "carrot and cardamom"],
    "street": ["Quarry Lane", "Alder Row", "Ferris Street"],
    "coworker": ["Jonas", "Anselm", "Rhys"],
    "coworker2": ["Bruno", "Kai", "Mats"],
    "physio": ["Dr. Lindqvist", "Dr. Abara", "Dr. Whitcombe"],
    "car": ["old blue Corsa", "rusty silver Fiesta", "ancient green Polo"],
    "mom_gift": ["a pottery class for two", "a hot air balloon ride", "a weekend at a spa hotel"],
    "show": ["The Lighthouse Keepers", "Northern Line", "Paper Moons"],
    "dish": ["a lentil and squash curry", "a mushroom risotto", "a chickpea and spinach stew"],
}

# Small talk that fills the sessions between the beats; none of it answers a question.
FILLER: list[Ex] = [
    Ex(
        ["It's been pouring all day here.", "The rain hasn't stopped since this morning."],
        ["Perfect weather for a blanket and tea, then.", "A good day to stay in, I hope you can."],
    ),
    Ex(
        ["I'm so tired today, I barely slept.", "I'm running on about five hours of sleep."],
        [
            "Be gentle with yourself tonight. An early night maybe?",
            "Oof. Anything keeping you up, or just one of those nights?",
        ],
    ),
    Ex(
        ["Just made myself a huge bowl of noodles.", "I'm eating toast for dinner, don't judge me."],
        [
            "Honestly that sounds like the right call after a long day.",
            "No judgement here, comfort food is comfort food.",
        ],
    ),
    Ex(
        ["The neighbours are having a party again.", "Someone on my street has been drilling for an hour."],
        ["Headphones and a good playlist might save the evening.", "I hope it stops soon, that's maddening."],
    ),
    Ex(
        ["I finally cleaned the kitchen properly.", "I spent the afternoon doing laundry and ironing."],
        ["That satisfying feeling of a clean space! Well done.", "Chores done, the rest of the evening is yours."],
    ),
    Ex(
        ["Any idea what I should watch tonight?", "I can't decide what to watch."],
        [
            "Something light, maybe? A comedy you've seen before is always safe.",
            "Go for something short, so you don't stay up too late.",
        ],
    ),
    Ex(
        ["It was sunny for once, I sat outside at lunch.", "The sun came out for an hour and it felt amazing."],
        [
            "A bit of sun does wonders. I'm glad you caught it.",
            "Those little moments count. What did you have for lunch?",
        ],
    ),
    Ex(
        [
            "My phone screen cracked when I dropped it this morning.",
            "My laptop updated itself in the middle of a call.",
        ],
        ["Ugh, technology picks the worst moments.", "That's so annoying. Still usable, at least?"],
    ),
    Ex(
        ["I tried a new coffee place near the station.", "I bought way too many groceries again."],
        ["Any good? A new favourite spot is always nice.", "Future you will be grateful, at least for a few days."],
    ),
    Ex(
        ["I've been humming the same song all day.", "I found an old photo album at the back of a drawer."],
        ["Which one? Now I'm curious.", "Oh, that's a lovely find. Any embarrassing haircuts?"],
    ),
    Ex(
        ["The train was late again, twenty minutes this time.", "The bus skipped my stop this morning."],
        ["That's so frustrating when you're trying to get somewhere.", "I'm sorry, what a way to start the day."],
    ),
    Ex(
        ["I'm thinking of rearranging my living room.", "I bought a plant, a little fern, for the windowsill."],
        ["A fresh layout can make a place feel new.", "Ferns like a bit of humidity, so maybe mist it now and then."],
    ),
    Ex(
        ["I had a long call with my mum tonight.", "My dad sent me a very blurry photo of his lunch."],
        ["Those calls matter. How is she doing?", "Ha, the classic parent photo. What was it?"],
    ),
    Ex(
        ["I spent the evening reading in the bath.", "I did a jigsaw puzzle for two hours, very relaxing."],
        ["That sounds like a proper reset.", "Puzzles are so calming. How many pieces?"],
    ),
    Ex(
        ["My houseplants are thriving for once.", "I repotted the big plant in the hallway."],
        ["Look at you, a plant whisperer.", "Repotting is so satisfying. Did it have space to grow?"],
    ),
    Ex(
        [
            "I had the strangest dream about being late for an exam.",
            "I dreamt I could fly but only a metre off the ground.",
        ],
        ["The exam dream never leaves us, does it?", "A very modest superpower. I like it."],
    ),
    Ex(
        ["Work was just meetings today, back to back.", "I answered emails for three hours straight."],
        ["Meeting days are the most tiring kind of nothing.", "Inbox days are draining. Did you get to zero?"],
    ),
    Ex(
        ["I'm craving pizza so badly right now.", "I baked banana bread because the bananas were going brown."],
        ["Is there a good place near you that delivers?", "The best reason to bake. Does the house smell amazing?"],
    ),
    Ex(
        ["The heating in the office is broken, we all wore coats.", "The lift at work is out of order again."],
        ["Working in a coat is no way to live.", "Stairs it is. A free workout, at least."],
    ),
    Ex(
        ["I went for a long walk after dinner, it cleared my head.", "I walked home the long way tonight."],
        ["Walks after dinner are underrated.", "Sometimes the long way is the point."],
    ),
    Ex(
        ["Is it weird that I like doing the dishes?", "I reorganised my spice drawer alphabetically."],
        ["Not weird at all, it's meditative for a lot of people.", "Alphabetically! Where does 'smoked paprika' go?"],
    ),
    Ex(
        ["I'm trying to drink more water this week.", "I forgot my lunch at home again."],
        ["Small goals are the ones that stick. How's it going?", "The saddest moment of a working day."],
    ),
    Ex(
        [
            "I binged three episodes of a cooking competition.",
            "There was a great documentary about octopuses on last night.",
        ],
        ["Now you're hungry, I bet.", "Octopuses are unreal. Did you learn anything wild?"],
    ),
    Ex(
        ["My hands are freezing, I can't type properly.", "It's so windy out, my umbrella turned inside out."],
        ["Gloves with the fingertips cut off, maybe?", "The classic umbrella defeat. Did you get soaked?"],
    ),
    Ex(
        ["I finally replied to all my messages from the week.", "I called the bank and waited forty minutes on hold."],
        ["That's a weight off. Feels good, doesn't it?", "Forty minutes of hold music, that's a special kind of pain."],
    ),
    Ex(
        ["Nothing much happened today, honestly.", "Quiet day. I just needed one of those."],
        ["Quiet days are good days too.", "Some days are for recharging. That's allowed."],
    ),
]

GREETINGS: list[Ex] = [
    Ex(
        ["Hi Aria!", "Hey Aria, I'm back.", "Evening, Aria.", "Hello again!"],
        [
            "Hi {user}! How has your week been?",
            "Hey you! Good to see you. What's new?",
            "Hello, {user}! Tell me everything.",
        ],
    ),
]
GOODBYES: list[Ex] = [
    Ex(
        ["I should sleep now. Talk soon!", "Okay, I'm off to bed. Night!", "Time to go, thanks for listening."],
        ["Sleep well, {user}. Talk soon!", "Good night! I'm glad you stopped by.", "Any time. Take care of yourself."],
    ),
]


def threads() -> list[Thread]:
    """Every story thread, with its beats (by session, 0-based) and its questions."""
    job = Thread("work")
    job.beats = [
        Beat(
            0,
            [
                Ex(
                    "I work as a graphic designer at {agency}. Mostly packaging for small food brands, jam jars, crisp bags, that kind of thing.",
                    "Packaging! So you're the reason I judge jam by its label. Do you enjoy it?",
                    "job.agency",
                ),
                Ex(
                    "Most days. It's a small team, six of us, and the coffee machine is older than me.",
                    "A small team sounds cosy, if a bit chaotic.",
                ),
            ],
        ),
        Beat(
            3,
            [
                Ex(
                    "{boss} rejected my label concept again. Third time. She said it looked 'too quiet' for a hot sauce.",
                    "Too quiet? For a hot sauce, I suppose she wanted flames. How are you feeling about it?",
                    "job.rejected",
                ),
                Ex(
                    "Annoyed. I spent the whole weekend on it and she looked at it for ten seconds.",
                    "That's deflating. Your work deserves more than ten seconds.",
                ),
            ],
        ),
        Beat(
            8,
            [
                Ex(
                    "Don't tell anyone, but I had a job interview today. At {bikes}, they make cargo bikes.",
                    "Your secret's safe with me! How did it go?",
                    "job.interview1",
                ),
                Ex(
                    "Really well I think. They want someone to design the whole look of their bikes and shop, not just boxes.",
                    "That's a big step up from jam jars. Exciting!",
                ),
            ],
        ),
        Beat(
            11,
            [
                Ex(
                    "Second interview at {bikes} this morning. I had to present a mock-up for a frame decal.",
                    "A presentation! Were you nervous?",
                    "job.interview2",
                ),
                Ex(
                    "Terribly, but their head of design laughed at my joke about cargo bikes being minivans for hipsters.",
                    "If they laughed, you're in good shape.",
                ),
            ],
        ),
        Beat(
            12,
            [
                Ex(
                    "THEY OFFERED ME THE JOB. Senior designer at {bikes}! I start on the 4th of May.",
                    "{user}!! Congratulations! Senior designer, that's huge.",
                    "job.offer job.start_date",
                ),
                Ex(
                    "I said yes before they could finish the sentence. The pay is better too, and it's a ten minute ride from home.",
                    "You earned it. We should celebrate somehow.",
                    "job.pay job.commute",
                ),
            ],
        ),
        Beat(
            13,
            [
                Ex(
                    "I handed in my notice today. {boss} just said 'fine' and went back to her emails.",
                    "Wow. After all those weekends. How do you feel now?",
                    "job.notice",
                ),
                Ex("Free! Four more weeks and I'm out.", "The countdown begins!"),
            ],
        ),
        Beat(
            16,
            [
                Ex(
                    "Last day at {agency} today. The team gave me a card shaped like a jam jar, I almost cried.",
                    "That's so sweet, and so fitting. You'll miss them.",
                    "job.lastday",
                ),
            ],
        ),
        Beat(
            17,
            [
                Ex(
                    "Two days into the new job at {bikes} and I love it already. My desk looks right onto the test track where they ride prototypes.",
                    "That's a view! How are the new colleagues?",
                    "job.firstweek",
                ),
                Ex(
                    "Lovely. {coworker} sits next to me, he's been there since they were three people in a garage.",
                    "A walking history book of the company, useful.",
                    "job.coworker",
                ),
            ],
        ),
        Beat(
            22,
            [
                Ex(
                    "My first real project at work: a new colour range for the family cargo bike. I pitched a deep teal and a mustard yellow.",
                    "Teal and mustard, that sounds fantastic on a bike. Did they like it?",
                    "job.project",
                ),
                Ex(
                    "They're making prototypes in both! I nearly fell off my chair.",
                    "That's a great start. You must be proud.",
                ),
            ],
        ),
    ]
    job.questions = [
        Q("What kind of design work did I do at my old agency?", "one-moment", "job.agency"),
        Q("Why was my manager unhappy with the label I made for the chilli product?", "one-moment", "job.rejected"),
        Q("What does the company I interviewed with produce?", "one-moment", "job.interview1"),
        Q("What did I have to show them the second time I met the bike company?", "one-moment", "job.interview2"),
        Q("What title did the new employer give me?", "one-moment", "job.offer"),
        Q("How did my old boss react when I told her I was leaving?", "one-moment", "job.notice"),
        Q("What farewell present did my old team give me?", "one-moment", "job.lastday"),
        Q("What can I see from my desk at the new place?", "one-moment", "job.firstweek"),
        Q("Which colleague has been at the bike company since its garage days?", "one-moment", "job.coworker"),
        Q("What colours did I propose for my first project at the new job?", "one-moment", "job.project"),
        Q("When did I start at the new company?", "date", "job.start_date"),
        Q("When did I go for the second round of interviews?", "date", "job.interview2"),
        Q("What happened at work in early April?", "date", "job.notice"),
        Q(
            "Tell me how my job hunt went, from the first interview to the offer.",
            "multi-moment",
            "job.interview1 job.interview2 job.offer",
        ),
        Q("Which two employers have I had while we've been talking?", "multi-moment", "job.agency job.firstweek"),
        Q(
            "How did things end with the agency, from resigning to my final day?",
            "multi-moment",
            "job.notice job.lastday",
        ),
        Q("Was my old boss hard to please? Give me examples.", "multi-moment", "job.rejected job.notice"),
        Q(
            "Do I still have to answer to the manager who kept turning my designs down?",
            "inference",
            "job.rejected job.offer",
        ),
        Q("Would a raise be one reason I changed jobs?", "inference", "job.pay"),
        Q("Am I likely to have a long commute to work now?", "inference", "job.commute"),
    ]

    dog = Thread("dog")
    dog.beats = [
        Beat(
            0,
            [
                Ex(
                    "I keep looking at rescue dogs online. I really want one, but I'm not sure my lease allows pets.",
                    "Maybe ask your landlord? It's worth knowing before you fall in love with one.",
                    "dog.wish",
                ),
            ],
        ),
        Beat(
            2,
            [
                Ex(
                    "Good news: the landlord said yes to a dog, as long as it's calm and not a puppy.",
                    "That's the green light! A calm adult dog could be perfect for you.",
                    "dog.landlord",
                ),
            ],
        ),
        Beat(
            5,
            [
                Ex(
                    "She's home!! A three year old greyhound called {dog}. She used to race, now she mostly sleeps on my sofa.",
                    "{dog}! A retired racer turned couch potato, I love her already.",
                    "dog.adopted",
                ),
                Ex(
                    "She's so gentle. She leans her whole weight on my legs when she wants a cuddle.",
                    "The greyhound lean! That's how they say they trust you.",
                ),
            ],
        ),
        Beat(
            7,
            [
                Ex(
                    "{dog}'s first week: she's scared of the stairs, and she stole a whole baguette off the counter.",
                    "A baguette thief! Counter surfing is a classic for tall dogs.",
                    "dog.firstweek",
                ),
            ],
        ),
        Beat(
            10,
            [
                Ex(
                    "Awful night. {dog} got into my bag and ate a whole bar of dark chocolate. We were at the emergency vet until 2am.",
                    "Oh no! Is she okay? Dark chocolate is really dangerous for dogs.",
                    "dog.chocolate",
                ),
                Ex(
                    "She's fine now, they made her sick and kept her on a drip for a few hours. The bill was 340 euros.",
                    "Poor girl, and poor you. I'm so glad she's alright.",
                    "dog.vetbill",
                ),
            ],
        ),
        Beat(
            15,
            [
                Ex(
                    "{dog} is terrified of the new vacuum. She hides in the bathtub whenever I turn it on.",
                    "The bathtub! That's her safe place, then. Maybe vacuum while she's out on a walk?",
                    "dog.vacuum",
                ),
            ],
        ),
        Beat(
            20,
            [
                Ex(
                    "{dog} discovered the garden. She does zoomies round the apple tree, faster than anything I've ever seen.",
                    "Of course she does, she's built for speed. That must be a sight.",
                    "dog.garden",
                ),
            ],
        ),
        Beat(
            23,
            [
                Ex(
                    "The vet says {dog} has put on two kilos since February, which is good, she was too skinny from racing.",
                    "That's lovely news. A happy, well-fed retiree.",
                    "dog.weight",
                ),
            ],
        ),
    ]
    dog.questions = [
        Q("What breed is the dog I took in?", "one-moment", "dog.adopted"),
        Q("What was my pet's previous career?", "one-moment", "dog.adopted"),
        Q("What food did my dog steal in her first days with me?", "one-moment", "dog.firstweek"),
        Q("How much did the late-night animal hospital visit cost me?", "one-moment", "dog.vetbill"),
        Q("Where does my dog hide when the cleaning machine comes out?", "one-moment", "dog.vacuum"),
        Q("What did the vet say about my dog's weight?", "one-moment", "dog.weight"),
        Q("What conditions did my landlord set for having a pet?", "one-moment", "dog.landlord"),
        Q("When did I bring my dog home?", "date", "dog.adopted"),
        Q("When was the emergency with my dog?", "date", "dog.chocolate"),
        Q(
            "Tell me the story of how I got my dog, from wanting one to adopting her.",
            "multi-moment",
            "dog.wish dog.landlord dog.adopted",
        ),
        Q("What mischief or scares has my dog caused?", "multi-moment", "dog.firstweek dog.chocolate dog.vacuum"),
        Q("How has my dog changed since she arrived?", "multi-moment", "dog.adopted dog.weight"),
        Q(
            "Should I leave a chocolate cake on the kitchen table when I go out?",
            "inference",
            "dog.chocolate dog.firstweek",
        ),
        Q("Would my dog enjoy it if I got a robot cleaner that runs all day?", "inference", "dog.vacuum"),
        Q("Is my dog a good runner?", "inference", "dog.adopted dog.garden"),
        Q("Is my dog still a puppy?", "inference", "dog.adopted"),
    ]

    family = Thread("family")
    family.beats = [
        Beat(
            1,
            [
                Ex(
                    "My little sister {sister} got engaged! {fiance} proposed at the top of a lighthouse on New Year's Day.",
                    "A lighthouse proposal, how romantic! Congratulations to them.",
                    "fam.engaged",
                ),
                Ex(
                    "The wedding is on the 20th of June, at {venue}.",
                    "June! That's not far away. Will you have a role?",
                    "fam.wedding_date fam.venue",
                ),
                Ex(
                    "She asked me to be her maid of honour. I said yes, then panicked about the speech.",
                    "You'll be wonderful. We can work on the speech together.",
                    "fam.maid",
                ),
            ],
        ),
        Beat(
            8,
            [
                Ex(
                    "My dad is having his hip replaced on the 12th of March. He's pretending he isn't scared.",
                    "Hip surgery is a big deal. It's okay for him to be scared. Will you be there?",
                    "fam.surgery_plan",
                ),
                Ex("I'll drive him in and stay the night at my parents' house.", "That will mean a lot to him."),
            ],
        ),
        Beat(
            9,
            [
                Ex(
                    "Cake tasting with {sister} today. We tried eleven cakes. She picked {cake}.",
                    "Eleven! That's dedication. {cake} sounds delicious.",
                    "fam.cake",
                ),
            ],
        ),
        Beat(
            10,
            [
                Ex(
                    "Dad's operation went well! He was already walking to the window with a frame the next day.",
                    "That's wonderful news. Walking the next day is a great sign.",
                    "fam.surgery_done",
                ),
                Ex(
                    "He's already complaining about the hospital jelly, so he's clearly himself again.",
                    "Ha, complaining about the food means he's on the mend.",
                ),
            ],
        ),
        Beat(
            13,
            [
                Ex(
                    "Dress shopping with {sister}. She cried in the fourth shop when she found the one, plain silk, no lace.",
                    "Oh, that moment! Plain silk sounds elegant.",
                    "fam.dress",
                ),
            ],
        ),
        Beat(
            20,
            [
                Ex(
                    "I wrote the first draft of my maid of honour speech. It opens with the time {sister} cut my hair when she was six.",
                    "That's the perfect opening. Funny and affectionate.",
                    "fam.speech",
                ),
                Ex(
                    "I'm worried it's too long, it's seven minutes.",
                    "Maybe aim for four or five. People love a short, warm speech.",
                    "fam.speech_length",
                ),
            ],
        ),
        Beat(
            21,
            [
                Ex(
                    "It's my mum's sixtieth next week. I booked her {mom_gift}.",
                    "What a lovely present. She'll remember that.",
                    "fam.mom_gift",
                ),
            ],
        ),
        Beat(
            23,
            [
                Ex(
                    "We had {sister}'s hen weekend at a cabin by a lake. Canoes, far too much prosecco, and karaoke.",
                    "That sounds like a perfect hen do. Who won the karaoke?",
                    "fam.hen",
                ),
                Ex(
                    "Her friend from university, by a mile. I came last with an ABBA song.",
                    "Coming last with ABBA is still a win.",
                ),
            ],
        ),
        Beat(
            24,
            [
                Ex(
                    "The wedding was perfect. {fiance} cried during the vows, and it only rained during the photos.",
                    "That sounds beautiful! And how did the speech go?",
                    "fam.wedding",
                ),
                Ex(
                    "People laughed at the haircut story and I didn't go over five minutes. {sister} hugged me for ages afterwards.",
                    "I'm so proud of you. That must have felt amazing.",
                    "fam.speech_done",
                ),
            ],
        ),
    ]
    family.questions = [
        Q("How did my sister's partner propose?", "one-moment", "fam.engaged"),
        Q("Where was the wedding held?", "one-moment", "fam.venue"),
        Q("Which flavour did we choose for the wedding cake?", "one-moment", "fam.cake"),
        Q("What kind of dress did my sister end up choosing?", "one-moment", "fam.dress"),
        Q("What story did I open my wedding speech with?", "one-moment", "fam.speech"),
        Q("What did I give my mother for her birthday?", "one-moment", "fam.mom_gift"),
        Q("What did we do for the bachelorette weekend?", "one-moment", "fam.hen"),
        Q("How quickly was my father back on his feet after the operation?", "one-moment", "fam.surgery_done"),
        Q("What role did I have in the wedding?", "one-moment", "fam.maid"),
        Q("When did my dad have his operation?", "date", "fam.surgery_plan fam.surgery_done"),
        Q("What date did my sister get married?", "date", "fam.wedding_date"),
        Q("When did my sister get engaged?", "date", "fam.engaged"),
        Q("What did I do with my sister in March?", "date", "fam.cake"),
        Q(
            "How did my dad's hip operation go, from before to after?",
            "multi-moment",
            "fam.surgery_plan fam.surgery_done",
        ),
        Q(
            "Which wedding preparations did I help my sister with?",
            "multi-moment",
            "fam.cake fam.dress fam.speech fam.hen",
        ),
        Q(
            "How did my speech for the wedding develop, from the draft to the day?",
            "multi-moment",
            "fam.speech fam.speech_length fam.speech_done",
        ),
        Q(
            "Give me the whole story of my sister's wedding, engagement to big day.",
            "multi-moment",
            "fam.engaged fam.wedding",
        ),
        Q("Am I older or younger than my sister?", "inference", "fam.engaged"),
        Q("How old is my mother now?", "inference", "fam.mom_gift"),
        Q("Am I nervous about speaking in front of a crowd?", "inference", "fam.maid fam.speech_length"),
        Q("Did the weather ruin the wedding day?", "inference", "fam.wedding"),
        Q("Was my father worried before the surgery?", "inference", "fam.surgery_plan"),
    ]

    climbing = Thread("climbing")
    climbing.beats = [
        Beat(
            0,
            [
                Ex(
                    "New year's resolution: I signed up for a beginners' bouldering course at {gym}.",
                    "Bouldering! That's a great one. Scared of heights at all?",
                    "climb.signup",
                ),
                Ex(
                    "A little. But the walls are only four metres and there are big mats.",
                    "Then you're all set. Let me know how the first class goes.",
                    "climb.heights",
                ),
            ],
        ),
        Beat(
            2,
            [
                Ex(
                    "First bouldering class! My forearms are on fire. I managed three of the easiest routes.",
                    "Three on your first day is a great start! The forearm burn is a rite of passage.",
                    "climb.first",
                ),
                Ex(
                    "The instructor said I have good footwork for a beginner, which made my week.",
                    "Footwork is what most beginners lack, that's real praise.",
                    "climb.footwork",
                ),
            ],
        ),
        Beat(
            6,
            [
                Ex(
                    "I climbed my first blue route at the wall tonight, that's two grades up from where I started!",
                    "Two grades in a few weeks, you're flying.",
                    "climb.blue",
                ),
            ],
        ),
        Beat(
            9,
            [
                Ex(
                    "Bad news: I fell off the top of a route and landed badly. My ankle is sprained, the doctor says no climbing for six weeks.",
                    "Oh no, I'm sorry. Six weeks is a long time. Are you in a lot of pain?",
                    "climb.sprain",
                ),
                Ex(
                    "It's swollen like a grapefruit. I'm hopping around the flat on crutches.",
                    "Rest it, ice it, and let people help you.",
                ),
            ],
        ),
        Beat(
            11,
            [
                Ex(
                    "Started physio for the ankle with {physio}. Lots of balancing on one leg on a wobble board.",
                    "Wobble boards are sneaky hard. Is it helping?",
                    "climb.physio",
                ),
            ],
        ),
        Beat(
            19,
            [
                Ex(
                    "I'm back on the wall! First session since the ankle. I only did easy routes, but it felt like coming home.",
                    "Welcome back! Easy routes are exactly right for now.",
                    "climb.back",
                ),
            ],
        ),
        Beat(
            22,
            [
                Ex(
                    "A few of us from the wall are planning a trip to climb outdoors, at {crag}, at the end of June.",
                    "Real rock! That's a big moment for any climber.",
                    "climb.plan",
                ),
            ],
        ),
        Beat(
            25,
            [
                Ex(
                    "We went to {crag} at the weekend. Real rock is so different, sharp and cold, and I finished a route called Sea Glass!",
                    "Your first outdoor route! How did it feel at the top?",
                    "climb.outdoor",
                ),
                Ex(
                    "Terrifying and wonderful. My ankle held up fine, not a twinge.",
                    "After everything this spring, that's a triumph.",
                    "climb.ankle_ok",
                ),
            ],
        ),
    ]
    climbing.questions = [
        Q("What sport did I take up as my January resolution?", "one-moment", "climb.signup"),
        Q("What compliment did my instructor give me at my first class?", "one-moment", "climb.footwork"),
        Q("How did I get injured?", "one-moment", "climb.sprain"),
        Q("What exercises did my physiotherapist give me?", "one-moment", "climb.physio"),
        Q("What was the name of the route I finished on real rock?", "one-moment", "climb.outdoor"),
        Q("How long was I told to stay off the wall?", "one-moment", "climb.sprain"),
        Q("When did I hurt my ankle?", "date", "climb.sprain"),
        Q("When did I get back to the climbing gym?", "date", "climb.back"),
        Q("When did I first climb outside?", "date", "climb.outdoor"),
        Q("How has my climbing progressed since I started?", "multi-moment", "climb.first climb.blue climb.outdoor"),
        Q(
            "Tell me about my ankle injury and my recovery from it.",
            "multi-moment",
            "climb.sprain climb.physio climb.back climb.ankle_ok",
        ),
        Q("Which climbing places have I been to?", "multi-moment", "climb.signup climb.outdoor"),
        Q("Why didn't I go to the climbing gym in April?", "inference", "climb.sprain"),
        Q("Am I afraid of heights?", "inference", "climb.heights"),
        Q("Is my ankle fully healed?", "inference", "climb.ankle_ok"),
    ]

    lisbon = Thread("lisbon")
    lisbon.beats = [
        Beat(
            1,
            [
                Ex(
                    "I booked flights to Lisbon for the end of May, four days on my own. So I've started learning Portuguese with an app.",
                    "Lisbon in late May, lovely! How's the app going?",
                    "lis.booked",
                ),
                Ex(
                    "I can say 'the cat drinks milk' and nothing useful.",
                    "Every language starts with a cat drinking something.",
                ),
            ],
        ),
        Beat(
            6,
            [
                Ex(
                    "I found a Portuguese tutor, {tutor}. Online lessons every Thursday evening. She's very strict about pronunciation.",
                    "A strict tutor will get you far. Thursday evenings, that's a good rhythm.",
                    "lis.tutor",
                ),
            ],
        ),
        Beat(
            12,
            [
                Ex(
                    "{tutor} made me order an imaginary dinner in Portuguese for twenty minutes. I kept ordering the bill instead of the soup.",
                    "Ha! Well, at least you'll never be stuck without the bill.",
                    "lis.lesson",
                ),
            ],
        ),
        Beat(
            21,
            [
                Ex(
                    "I'm back from Lisbon! I ate a custard tart every single day and got lost in Alfama twice.",
                    "That sounds like the perfect trip. Did the Portuguese help?",
                    "lis.trip",
                ),
                Ex(
                    "A bit! An old man at a tram stop told me my accent was 'almost Brazilian', which I chose to take as a compliment.",
                    "Take it! Almost anything in another language is a win.",
                    "lis.accent",
                ),
                Ex(
                    "The best part was the sunset from the castle walls. I sat there for two hours.",
                    "That sounds magical, what a memory.",
                    "lis.sunset",
                ),
            ],
        ),
        Beat(
            22,
            [
                Ex(
                    "I had my last lesson with {tutor}. I'm going to keep going with the app, five minutes a day.",
                    "Five minutes a day adds up. She'll be proud of you.",
                    "lis.end",
                ),
            ],
        ),
    ]
    lisbon.questions = [
        Q("Who has been teaching me Portuguese?", "one-moment", "lis.tutor"),
        Q("What did I keep getting wrong in the pretend restaurant exercise?", "one-moment", "lis.lesson"),
        Q("What did a stranger say about my accent?", "one-moment", "lis.accent"),
        Q("What was my favourite moment of my holiday abroad?", "one-moment", "lis.sunset"),
        Q("Which pastry did I eat every day on my trip?", "one-moment", "lis.trip"),
        Q("Which day of the week were my language lessons?", "one-moment", "lis.tutor"),
        Q("When did I travel to Portugal?", "date", "lis.trip"),
        Q("When did I start learning the language?", "date", "lis.booked"),
        Q("How did I prepare for the Lisbon trip?", "multi-moment", "lis.booked lis.tutor lis.lesson"),
        Q("Tell me about my Portuguese learning from start to finish.", "multi-moment", "lis.booked lis.tutor lis.end"),
        Q("Did I travel with friends to Lisbon?", "inference", "lis.booked"),
        Q("Am I still taking Portuguese lessons?", "inference", "lis.end"),
    ]

    health = Thread("health")
    health.beats = [
        Beat(
            4,
            [
                Ex(
                    "My stomach has been awful for weeks. Bloated after almost every meal.",
                    "That sounds miserable. Have you seen a doctor?",
                    "health.symptoms",
                ),
            ],
        ),
        Beat(
            6,
            [
                Ex(
                    "The doctor ran a breath test: I'm lactose intolerant. Goodbye, cheese boards.",
                    "Oh no, the cheese! But at least you know now. There are good lactose-free options.",
                    "health.lactose",
                ),
                Ex(
                    "I already bought oat milk. It's fine in coffee, honestly.",
                    "Oat milk has come a long way. Your stomach will thank you.",
                    "health.oat",
                ),
            ],
        ),
        Beat(
            14,
            [
                Ex(
                    "I cooked {dish} for friends on Saturday, all dairy free, and nobody noticed.",
                    "That's the best kind of dairy-free cooking. What's the secret?",
                    "health.dinner",
                ),
                Ex("Coconut milk and a lot of garlic.", "Garlic fixes most things."),
            ],
        ),
        Beat(
            19,
            [
                Ex(
                    "I've started running before work, three times a week. 6am alarms, can you believe it?",
                    "6am! Who are you and what have you done with {user}?",
                    "health.running",
                ),
                Ex(
                    "I know. But the streets are empty and the dog loves it.",
                    "That sounds like a lovely way to start the day.",
                    "health.run_dog",
                ),
            ],
        ),
    ]
    health.questions = [
        Q("What did my breath test show?", "one-moment", "health.lactose"),
        Q("What did I switch to in my coffee?", "one-moment", "health.oat"),
        Q("What did I cook when I had friends over for dinner in April?", "one-moment", "health.dinner"),
        Q("How often do I go jogging?", "one-moment", "health.running"),
        Q("When was I diagnosed with my food intolerance?", "date", "health.lactose"),
        Q(
            "How did my digestive problems unfold, from symptoms to the diagnosis?",
            "multi-moment",
            "health.symptoms health.lactose",
        ),
        Q("How have I changed the way I eat this year?", "multi-moment", "health.lactose health.oat health.dinner"),
        Q("Would a cheese fondue evening be a good idea for me?", "inference", "health.lactose"),
        Q("Should I order a milkshake?", "inference", "health.lactose"),
        Q("Am I a morning person these days?", "inference", "health.running"),
        Q("Do I go running alone?", "inference", "health.run_dog"),
    ]

    home = Thread("home")
    home.beats = [
        Beat(
            2,
            [
                Ex(
                    "Water is dripping through my bathroom ceiling. {upstairs} upstairs left his bath running.",
                    "Oh no! Is there much damage?",
                    "home.leak",
                ),
                Ex(
                    "A brown stain the size of a pizza and the light fitting buzzes now. The landlord says he'll send someone.",
                    "Don't use that light until someone checks it!",
                    "home.leak_damage",
                ),
            ],
        ),
        Beat(
            5,
            [
                Ex(
                    "The plumber finally came about the ceiling. He says it'll take two weeks to dry before they can repaint.",
                    "Two weeks of staring at the stain. At least it's being fixed.",
                    "home.repair",
                ),
            ],
        ),
        Beat(
            12,
            [
                Ex(
                    "With the new job and the dog, I think it's time to leave this flat. I want somewhere with a garden.",
                    "A garden for the dog would be wonderful. Are you looking to rent or buy?",
                    "home.decide",
                ),
                Ex(
                    "Rent, for now. Buying is a dream for another decade.",
                    "Renting makes sense. Somewhere closer to the new job?",
                    "home.rent",
                ),
            ],
        ),
        Beat(
            14,
            [
                Ex(
                    "Found a house! A little terraced house on {street}, with a garden and an apple tree. Moving on the 25th.",
                    "An apple tree! That's perfect. The dog will love it.",
                    "home.found home.move_date",
                ),
            ],
        ),
        Beat(
            15,
            [
                Ex(
                    "Everything I own is in boxes. I've packed 43 boxes and I still have the kitchen to do.",
                    "43! Moving really shows you how much stuff you have. Label everything!",
                    "home.packing",
                ),
            ],
        ),
        Beat(
            16,
            [
                Ex(
                    "I live on {street} now! The movers dropped my bookcase down the stairs but otherwise it went smoothly.",
                    "Welcome to the new house! Sorry about the bookcase. Is it salvageable?",
                    "home.moved",
                ),
                Ex(
                    "Some wood glue and it'll be fine. I planted tomatoes in the garden the same evening.",
                    "Tomatoes on day one, you're settling in already.",
                    "home.tomatoes",
                ),
            ],
        ),
        Beat(
            19,
            [
                Ex(
                    "Met my new neighbour, an old sailor who lives alone and gave me a jar of pickled onions as a welcome.",
                    "A sailor neighbour with pickled onions, that's a great first impression.",
                    "home.neighbour",
                ),
            ],
        ),
        Beat(
            23,
            [
                Ex(
                    "First tomatoes from the garden! Only five, but they taste like summer.",
                    "Five home-grown tomatoes beat any from the shop.",
                    "home.harvest",
                ),
            ],
        ),
    ]
    home.questions = [
        Q("What caused the water damage in my old bathroom?", "one-moment", "home.leak"),
        Q("How long did the plumber say the ceiling needed before it could be painted?", "one-moment", "home.repair"),
        Q("What's growing in my new garden?", "one-moment", "home.found"),
        Q("How many boxes had I packed before the move?", "one-moment", "home.packing"),
        Q("What did the movers break?", "one-moment", "home.moved"),
        Q("What welcome gift did my neighbour give me?", "one-moment", "home.neighbour"),
        Q("Am I renting or did I buy my new place?", "one-moment", "home.rent"),
        Q("What's my address now?", "one-moment", "home.moved"),
        Q("When did I move house?", "date", "home.move_date home.moved"),
        Q("When did the ceiling leak happen?", "date", "home.leak"),
        Q("What did I do in the garden at the end of April?", "date", "home.tomatoes"),
        Q(
            "Tell me the story of my move, from deciding to leave to settling in.",
            "multi-moment",
            "home.decide home.found home.packing home.moved",
        ),
        Q("What went wrong in my old flat?", "multi-moment", "home.leak home.leak_damage home.repair"),
        Q("What have I grown in my garden, from planting to picking?", "multi-moment", "home.tomatoes home.harvest"),
        Q("Why did I want to move?", "one-moment", "home.decide"),
        Q("Does my new home have room for the dog to run around?", "inference", "home.found"),
        Q("Could I make apple crumble with fruit from my own garden?", "inference", "home.found"),
        Q("Does my new neighbour have a family living with him?", "inference", "home.neighbour"),
    ]

    friends = Thread("friends")
    friends.beats = [
        Beat(
            3,
            [
                Ex(
                    "Book club tonight. We're reading {book1} this month, it's {reader}'s pick.",
                    "Ooh, how are you finding it so far?",
                    "friends.book1",
                ),
                Ex(
                    "Slow. Two hundred pages about a lighthouse and nothing has happened yet.",
                    "Maybe it's a slow burn. Or maybe it's just slow.",
                    "friends.book1_opinion",
                ),
            ],
        ),
        Beat(
            7,
            [
                Ex(
                    "My best friend {friend} is moving to {friend_city} for a research job. She leaves in March.",
                    "Oh, that's bittersweet. You'll miss her a lot.",
                    "friends.moving",
                ),
                Ex(
                    "We've lived ten minutes apart since we were eleven. I don't know what I'll do.",
                    "Video calls and visits. And it gives you a reason to travel.",
                    "friends.childhood",
                ),
            ],
        ),
        Beat(
            11,
            [
                Ex(
                    "Book club picked {book2} for April, a thriller set on a ferry. Much better than the lighthouse one.",
                    "A ferry thriller sounds like a page-turner.",
                    "friends.book2",
                ),
            ],
        ),
        Beat(
            13,
            [
                Ex(
                    "{reader} and his wife had their baby! A boy called {baby}. I'm going to knit him something terrible.",
                    "Congratulations to them! A terrible knitted gift is a proper tradition.",
                    "friends.baby",
                ),
            ],
        ),
        Beat(
            17,
            [
                Ex(
                    "I video-called {friend} in {friend_city}. She's found a flat with a view of the harbour and she sounds happy.",
                    "That's good to hear. Are you planning a visit?",
                    "friends.call",
                ),
                Ex("Maybe in the autumn, when work calms down.", "Something to look forward to."),
            ],
        ),
        Beat(
            18,
            [
                Ex(
                    "Our book club has a new member, my colleague {coworker}. He brought homemade cinnamon rolls, so he's staying.",
                    "Cinnamon rolls is a very strong application.",
                    "friends.newmember",
                ),
            ],
        ),
    ]
    friends.questions = [
        Q("Who chose the book for our first club meeting of the year?", "one-moment", "friends.book1"),
        Q("Why is my best friend leaving town?", "one-moment", "friends.moving"),
        Q("What was the thriller the club read in the spring?", "one-moment", "friends.book2"),
        Q("What's the name of my friend's newborn?", "one-moment", "friends.baby"),
        Q("What kind of flat did my best friend find abroad?", "one-moment", "friends.call"),
        Q("Who joined our reading group recently?", "one-moment", "friends.newmember"),
        Q("Which books has my club read this year?", "multi-moment", "friends.book1 friends.book2"),
        Q(
            "How has my friendship with my best friend changed since she moved away?",
            "multi-moment",
            "friends.moving friends.call",
        ),
        Q(
            "Does my new colleague have any role in my life outside work?",
            "multi-moment",
            "job.coworker friends.newmember",
        ),
        Q("Have I known my best friend since childhood?", "inference", "friends.childhood"),
        Q("Did I enjoy the first book club book?", "inference", "friends.book1_opinion"),
        Q("Is my friend from book club a father now?", "inference", "friends.baby"),
    ]

    car = Thread("car")
    car.beats = [
        Beat(
            4,
            [
                Ex(
                    "My {car} died on the motorway this morning. I had to wait two hours for a tow truck.",
                    "Oh no, two hours on the hard shoulder! Are you okay?",
                    "car.breakdown",
                ),
            ],
        ),
        Beat(
            5,
            [
                Ex(
                    "{mechanic} at the garage says it's the clutch. 900 euros to fix. The car is only worth about 1000.",
                    "That's a tough one. Are you going to fix it?",
                    "car.quote",
                ),
                Ex("I paid it, for now. I need the car to get to my parents'.", "Makes sense while you need it."),
            ],
        ),
        Beat(
            15,
            [
                Ex(
                    "I've decided to sell the car. With the new job so close I can cycle, and the car just eats money.",
                    "That's freeing! Cycling to work will be nice in summer.",
                    "car.sell_decision",
                ),
            ],
        ),
        Beat(
            17,
            [
                Ex(
                    "Sold the car to a student for 700 euros, and the company gave me a discount on an e-cargo bike. The dog rides in the box at the front!",
                    "The dog in the cargo box! Please tell me there's a photo.",
                    "car.sold car.ebike",
                ),
            ],
        ),
    ]
    car.questions = [
        Q("What was wrong with my car when it broke down?", "one-moment", "car.quote"),
        Q("How long did I wait for help on the highway?", "one-moment", "car.breakdown"),
        Q("How much did I get for my old car?", "one-moment", "car.sold"),
        Q("How does my dog travel with me these days?", "one-moment", "car.ebike"),
        Q("When did my car break down?", "date", "car.breakdown"),
        Q(
            "What happened to my car over the months, from the breakdown to getting rid of it?",
            "multi-moment",
            "car.breakdown car.quote car.sell_decision car.sold",
        ),
        Q("How much money have I spent or made on my car this year?", "multi-moment", "car.quote car.sold"),
        Q("Do I still drive to work?", "inference", "car.sold car.ebike"),
        Q("Should I ask a mechanic to check my car before a long summer drive?", "inference", "car.sold"),
    ]

    aria = Thread("aria")
    aria.beats = [
        Beat(
            7,
            [
                Ex(
                    "Can you recommend a novel for the long evenings? Something with an adventure in it.",
                    "Try {aria_book}. It's about a woman who maps an island nobody can find twice. Mysterious and warm.",
                    "",
                    "aria.book",
                ),
            ],
        ),
        Beat(
            10,
            [
                Ex(
                    "I started {aria_book}, the one you recommended. Chapter three and I'm hooked!",
                    "I'm so glad! Wait until you get to the part with the second map.",
                    "aria.book_start",
                ),
            ],
        ),
        Beat(
            14,
            [
                Ex(
                    "Any tips for my first day nerves at the new job? It's still a few weeks away but I'm already anxious.",
                    "Write down three questions to ask your manager, bring a snack, and remember they chose you.",
                    "",
                    "aria.tips",
                ),
            ],
        ),
        Beat(
            18,
            [
                Ex(
                    "What series should I watch? I need something cosy for the evenings.",
                    "You might like {show}, it's a slow, funny drama about a family running a seaside guest house.",
                    "",
                    "aria.show",
                ),
            ],
        ),
        Beat(
            22,
            [
                Ex(
                    "I've watched all of {show} already. You were right, the grandmother is the best character.",
                    "I knew you'd love her! Her scenes with the parrot are the best.",
                    "aria.show_done",
                ),
            ],
        ),
    ]
    aria.questions = [
        Q("What novel did you suggest I read?", "one-moment", "aria.book"),
        Q("What advice did you give me about starting a new job?", "one-moment", "aria.tips"),
        Q("Which TV series did you tell me to watch?", "one-moment", "aria.show"),
        Q("Who was my favourite character in the show you recommended?", "one-moment", "aria.show_done"),
        Q(
            "What recommendations have you given me, and did I follow them?",
            "multi-moment",
            "aria.book aria.book_start aria.show aria.show_done",
        ),
        Q("Did I like the book you suggested?", "inference", "aria.book_start"),
    ]

    # Questions that need moments from several threads.
    mixed = Thread("mixed")
    mixed.questions = [
        Q(
            "What injuries or medical problems have my family and I had this year?",
            "multi-moment",
            "climb.sprain fam.surgery_plan health.lactose",
        ),
        Q("Which trips did I take this spring and summer?", "multi-moment", "lis.trip climb.outdoor fam.hen"),
        Q("What did I spend money on at the vet and the garage?", "multi-moment", "dog.vetbill car.quote"),
        Q("What big life changes happened to me in April and May?", "multi-moment", "job.offer home.moved car.sold"),
        Q("What good news did people close to me share this year?", "multi-moment", "fam.engaged friends.baby"),
        Q("Who lives nearby and who moved away from me?", "multi-moment", "friends.moving home.neighbour"),
        Q("What did I do in the week my dad was in hospital?", "date", "fam.surgery_done dog.chocolate"),
        Q("What happened in my life in February?", "date", "dog.adopted health.lactose car.quote"),
        Q("What was going on with me in late June?", "date", "fam.wedding climb.outdoor"),
        Q("Is my home suited to a dog that loves to sprint?", "inference", "home.found dog.garden"),
        Q("Did my trip abroad happen before or after I changed jobs?", "date", "job.start_date lis.trip"),
        Q("Is my employer connected to the way I get around?", "inference", "car.ebike job.offer"),
    ]

    # Moments no question asks about, some close in words to those that are asked about.
    other = Thread("other")
    other.beats = [
        Beat(
            1,
            [
                Ex(
                    "My cousin Bea is getting married too, in September, in a castle in Scotland. Everyone's getting married this year.",
                    "A castle! That's a year full of weddings for you.",
                )
            ],
        ),
        Beat(
            2,
            [
                Ex(
                    "I bought proper climbing shoes. They're so tight my toes curl up inside them.",
                    "Apparently that's how they're meant to fit, painful as it sounds.",
                )
            ],
        ),
        Beat(
            3,
            [
                Ex(
                    "{friend}'s cat had four kittens and she's trying to give them away. I was so tempted.",
                    "Kittens are hard to resist! But one new animal at a time, maybe.",
                )
            ],
        ),
        Beat(
            4,
            [
                Ex(
                    "I watched a documentary about lighthouses. The last keepers left them in the nineties.",
                    "There's something so lonely and romantic about lighthouse keepers.",
                )
            ],
        ),
        Beat(
            5,
            [
                Ex(
                    "A man across the road walks three dachshunds at once. It's like a tiny parade.",
                    "A sausage dog parade is the best thing to see from a window.",
                )
            ],
        ),
        Beat(
            6,
            [
                Ex(
                    "Went to a pottery evening with {friend}. My bowl came out looking like a hat.",
                    "A hat-bowl is still art. Did you keep it?",
                )
            ],
        ),
        Beat(
            8,
            [
                Ex(
                    "{coworker2} at work is back from a holiday in Porto. He brought us chocolates shaped like sardines.",
                    "Sardine chocolates, that's a very Portuguese souvenir.",
                )
            ],
        ),
        Beat(
            9,
            [
                Ex(
                    "My mum sprained her wrist gardening, nothing serious, she just has to wear a bandage for a week.",
                    "Ouch. I hope she lets someone else do the weeding for a bit.",
                )
            ],
        ),
        Beat(
            11,
            [
                Ex(
                    "We had a fire drill at work and {boss} refused to leave her desk.",
                    "That's one way to get noticed by the fire warden.",
                )
            ],
        ),
        Beat(
            12,
            [
                Ex(
                    "I tried a spin class at a gym near work. Never again, my legs are jelly.",
                    "Spin is brutal. Jelly legs mean you did it properly though.",
                )
            ],
        ),
        Beat(
            13,
            [
                Ex(
                    "Dentist today. No cavities, but he told me off for not flossing.",
                    "No cavities is a win. The flossing lecture is unavoidable.",
                )
            ],
        ),
        Beat(
            15,
            [
                Ex(
                    "I found an old brass lamp at the flea market for the new place. Eight euros!",
                    "Eight euros for a brass lamp is a steal.",
                )
            ],
        ),
        Beat(
            16,
            [
                Ex(
                    "My dad sent a video of himself walking round his garden without his stick.",
                    "Look at him go! That's lovely to see.",
                )
            ],
        ),
        Beat(
            17,
            [
                Ex(
                    "The agency has posted an advert for my old job. They want someone 'calm under pressure'. Ha!",
                    "Calm under pressure, with that boss? Good luck to them.",
                )
            ],
        ),
        Beat(
            18,
            [
                Ex(
                    "The football was on at the pub tonight. I don't even like football, but the crowd was fun.",
                    "Sometimes it's about the atmosphere, not the game.",
                )
            ],
        ),
        Beat(
            20,
            [
                Ex(
                    "I made pancakes with oat milk this morning and they came out perfectly.",
                    "Pancakes on a weekday morning, that's living well.",
                )
            ],
        ),
        Beat(
            21,
            [
                Ex(
                    "My cousin Bea sent photos from her dress fitting. September is coming fast for her.",
                    "Two weddings in one year, you'll be an expert guest.",
                )
            ],
        ),
        Beat(
            22,
            [
                Ex(
                    "The boiler in the new house made a terrible banging noise, but the landlord sent someone the next day.",
                    "A landlord who fixes things quickly is worth a lot.",
                )
            ],
        ),
        Beat(
            23,
            [
                Ex(
                    "Someone at work brought a cake shaped like a bicycle for a birthday. Very on brand.",
                    "A bike-shaped cake at a bike company, of course!",
                )
            ],
        ),
        Beat(
            24,
            [
                Ex(
                    "I got sunburnt on the back of my neck at the weekend. I forgot sunscreen.",
                    "Ouch. Aloe vera and a hat from now on.",
                )
            ],
        ),
        Beat(
            25,
            [
                Ex(
                    "It's been exactly six months since I started talking to you, I think.",
                    "Has it? Then it's been a big six months for you, {user}.",
                )
            ],
        ),
    ]
    return [job, dog, family, climbing, lisbon, health, home, friends, car, aria, mixed, other]
